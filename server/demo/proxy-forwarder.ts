import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { encodeProxyV1, encodeProxyV2 } from '../attack/index.js';

export interface ProxyForwarderOptions {
  /** Where the forwarder listens. Default 127.0.0.1, port 0. */
  readonly host?: string;
  readonly port?: number;
  /** The backend every connection is forwarded to. */
  readonly upstream: { readonly host: string; readonly port: number };
  /** PROXY protocol version written before the client's bytes. Default 2. */
  readonly version?: 1 | 2;
}

export interface ProxyForwarder {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A TCP load balancer in miniature, as HAProxy does with `send-proxy-v2`: it opens a
 * connection to the backend per client, writes a PROXY header naming the client's address,
 * then copies bytes both ways. The backend sees the balancer as its TCP peer.
 */
export async function startProxyForwarder(options: ProxyForwarderOptions): Promise<ProxyForwarder> {
  const { upstream, version = 2, host = '127.0.0.1', port = 0 } = options;
  const open = new Set<Socket>();
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    const backend = connect({ host: upstream.host, port: upstream.port });
    track(backend);
    const closeBoth = (): void => {
      client.destroy();
      backend.destroy();
    };
    client.on('error', closeBoth);
    backend.on('error', closeBoth);
    backend.once('connect', () => {
      const source = { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 };
      const destination = { address: client.localAddress ?? '', port: client.localPort ?? 0 };
      try {
        backend.write(version === 1 ? encodeProxyV1(source, destination) : encodeProxyV2(source, destination));
      } catch {
        closeBoth(); // a peer Node cannot name: nothing honest to forward
        return;
      }
      // bytes the client sent meanwhile waited in its socket: nothing reads it before this pipe
      client.pipe(backend);
      backend.pipe(client);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    host,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
