import { Agent, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectHints, type CollectedHints } from '../../server/hints/collect.js';
import { headerInstances } from '../../server/hints/forwarding-header.js';
import { createProxyProtocolServer, proxyHeaderOf } from '../../server/hints/proxy-connection.js';
import { compileTrust } from '../../server/hints/trust.js';
import { requireBinary } from '../support/binaries.js';
import { startHaproxy, type RunningProxy } from '../support/haproxy.js';
import { startNginx } from '../support/nginx.js';
import { freePorts, listenOnFreePort } from '../support/ports.js';

/**
 * The backend trusts only 127.0.0.1 (where HAProxy and nginx connect from); the client plays
 * 127.0.0.5. Whatever the client writes into X-Forwarded-For, it must be observed as itself.
 */
const haproxy = requireBinary('haproxy');
const nginx = requireBinary('nginx');
const CLIENT = '127.0.0.5';
const trust = compileTrust(['127.0.0.1']);

interface Answer {
  hints: CollectedHints;
  proxy: { version: number; family: string; crc32c?: string; uniqueId?: string } | null;
  peerPort: number;
}

function backend(proxyProtocol: 'required' | 'optional'): Server {
  return createProxyProtocolServer(
    (req, res) => {
      const header = proxyHeaderOf(req.socket);
      const hints = collectHints({ l3: req.socket.remoteAddress, l4: header, headerValues: headerInstances(req.headersDistinct, 'x-forwarded-for'), trust });
      const proxy = header ? { version: header.version, family: header.family, crc32c: header.tlvs.crc32c, uniqueId: header.tlvs.uniqueId } : null;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ hints, proxy, peerPort: req.socket.remotePort ?? 0 } satisfies Answer));
    },
    { trustedProxies: trust, proxyProtocol, timeoutMs: 2000 },
  );
}

function ask(port: number, headers: Record<string, string> = {}, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', localAddress: CLIENT, headers, agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as Answer) : reject(new Error(`status ${res.statusCode}: ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

const servers: Server[] = [];
let headerPort = 0; // backend behind PROXY-protocol senders
let plainPort = 0; // backend behind HTTP proxies that write X-Forwarded-For
beforeAll(async () => {
  const withHeader = backend('required');
  const plain = backend('optional');
  servers.push(withHeader, plain);
  headerPort = await listenOnFreePort(withHeader);
  plainPort = await listenOnFreePort(plain);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve)))));
});

const forged = { 'X-Forwarded-For': '203.0.113.9' };
const viaHeader = () => ({ l3: '127.0.0.1', l4: CLIENT, l7: [], observed: CLIENT, decidedBy: 'l4' });
const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

describe.skipIf(!haproxy)('behind HAProxy 2.6', () => {
  let proxy: RunningProxy;
  let tcpV1 = 0;
  let tcpV2 = 0;
  let http = 0;
  beforeAll(async () => {
    [tcpV1, tcpV2, http] = (await freePorts(3)) as [number, number, number];
    const config = `
global
    maxconn 256

defaults
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend tcp_v1
    mode tcp
    bind 127.0.0.1:${tcpV1}
    default_backend app_v1

backend app_v1
    mode tcp
    server app 127.0.0.1:${headerPort} send-proxy

frontend tcp_v2
    mode tcp
    bind 127.0.0.1:${tcpV2}
    unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt
    default_backend app_v2

backend app_v2
    mode tcp
    server app 127.0.0.1:${headerPort} send-proxy-v2 proxy-v2-options unique-id,authority,crc32c

frontend http_xff
    mode http
    bind 127.0.0.1:${http}
    option forwardfor
    default_backend app_http

backend app_http
    mode http
    server app 127.0.0.1:${plainPort}
`;
    proxy = await startHaproxy(haproxy!, config, [tcpV1, tcpV2, http]);
  }, 20_000);
  afterAll(async () => proxy?.stop());

  it('mode tcp, send-proxy (v1): the client is observed through l4, its own XFF ignored', async () => {
    for (const headers of [{}, forged]) {
      const answer = await ask(tcpV1, headers);
      expect(answer.hints).toEqual(viaHeader());
      expect(answer.proxy).toMatchObject({ version: 1, family: 'TCP4' });
    }
  });

  it('mode tcp, send-proxy-v2 with unique-id and crc32c: TLVs arrive and verify', async () => {
    for (const headers of [{}, forged]) {
      const answer = await ask(tcpV2, headers);
      expect(answer.hints).toEqual(viaHeader());
      expect(answer.proxy).toMatchObject({ version: 2, family: 'TCP4', crc32c: 'valid' });
      const uniqueId = Buffer.from(answer.proxy!.uniqueId!, 'hex').toString();
      expect(uniqueId).toMatch(new RegExp(`^7F000005:[0-9A-F]{4}_7F000001:${hex(tcpV2)}_[0-9A-F]{8}_[0-9A-F]{4}$`));
    }
  });

  it('keep-alive through mode tcp: every request on the one backend connection sees l4', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await ask(tcpV1, forged, agent));
      expect(new Set(answers.map((a) => a.peerPort)).size).toBe(1);
      for (const answer of answers) expect(answer.hints.observed).toBe(CLIENT);
    } finally {
      agent.destroy();
    }
  });

  it('mode http, option forwardfor: observed from the entry HAProxy appended', async () => {
    expect((await ask(http)).hints).toEqual({ l3: '127.0.0.1', l7: [CLIENT], observed: CLIENT, decidedBy: 'l7' });
    expect((await ask(http, forged)).hints).toEqual({ l3: '127.0.0.1', l7: ['203.0.113.9', CLIENT], observed: CLIENT, decidedBy: 'l7' });
  });
});

describe.skipIf(!nginx)('behind nginx 1.22', () => {
  let proxy: RunningProxy;
  let stream = 0;
  let http = 0;
  beforeAll(async () => {
    [stream, http] = (await freePorts(2)) as [number, number];
    const body = `
stream {
    server {
        listen 127.0.0.1:${stream};
        proxy_pass 127.0.0.1:${headerPort};
        proxy_protocol on;
    }
}

http {
    server {
        listen 127.0.0.1:${http};
        location / {
            proxy_pass http://127.0.0.1:${plainPort};
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`;
    proxy = await startNginx(nginx!, body, [stream, http]);
  }, 20_000);
  afterAll(async () => proxy?.stop());

  it('stream with proxy_protocol on (v1): the client is observed through l4, its own XFF ignored', async () => {
    for (const headers of [{}, forged]) {
      const answer = await ask(stream, headers);
      expect(answer.hints).toEqual(viaHeader());
      expect(answer.proxy).toMatchObject({ version: 1, family: 'TCP4' });
    }
  });

  it('http with $proxy_add_x_forwarded_for: observed from the entry nginx appended', async () => {
    expect((await ask(http)).hints).toEqual({ l3: '127.0.0.1', l7: [CLIENT], observed: CLIENT, decidedBy: 'l7' });
    expect((await ask(http, forged)).hints).toEqual({ l3: '127.0.0.1', l7: ['203.0.113.9', CLIENT], observed: CLIENT, decidedBy: 'l7' });
  });
});
