import { connect, createServer, type Server } from 'node:net';

/**
 * A loopback port that was free a moment ago (the OS picked it for a listener we closed).
 * For binaries that need a port in their config; servers of our own should listen on 0.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, host, resolve);
  });
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

/** Distinct free ports (one listener held per port until all are picked, so none repeats). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const held: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(0, host, resolve);
      });
      held.push(probe);
    }
    return held.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Below the kernel's ephemeral range (32768–60999 here), so no listener on port 0 and no outgoing connection takes one. */
const CLUSTER_PORTS_FROM = 10_000;
const CLUSTER_PORTS_TO = 22_767;
/** A Redis Cluster node also binds its bus port, its own port + 10000. */
const CLUSTER_BUS_OFFSET = 10_000;

/**
 * Ports for Redis Cluster nodes: each free together with its bus port (+10000), both below the
 * ephemeral range, every pair held until all are picked. A node on an ephemeral port could find
 * its bus port taken — by another cluster's node, started by a test running beside it — and
 * exit at start ("Address already in use").
 */
export async function freeClusterPorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  const tryListen = (port: number): Promise<Server | undefined> =>
    new Promise((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(undefined));
      probe.listen(port, host, () => resolve(probe));
    });
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt > 1000) throw new Error('freeClusterPorts: no free pair of ports found');
      const port = CLUSTER_PORTS_FROM + Math.floor(Math.random() * (CLUSTER_PORTS_TO - CLUSTER_PORTS_FROM));
      if (ports.includes(port) || ports.includes(port + CLUSTER_BUS_OFFSET) || ports.includes(port - CLUSTER_BUS_OFFSET)) continue;
      const main = await tryListen(port);
      if (main === undefined) continue;
      const bus = await tryListen(port + CLUSTER_BUS_OFFSET);
      if (bus === undefined) {
        held.push(main);
        continue;
      }
      held.push(main, bus);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Listens on port 0 of `host` and returns the port the OS chose. */
export async function listenOnFreePort(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return (server.address() as { port: number }).port;
}

/**
 * Resolves once something accepts TCP connections on `port`; rejects after `timeoutMs`, or
 * as soon as `alive()` says the process that should listen has gone.
 */
export async function waitForPort(
  port: number,
  { host = '127.0.0.1', timeoutMs = 10_000, alive = () => true }: { host?: string; timeoutMs?: number; alive?: () => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (!alive()) throw new Error(`waitForPort: the process meant to listen on ${port} exited`);
    if (Date.now() > deadline) throw new Error(`waitForPort: nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
