import { createServer, request, type Server } from 'node:http';
import { createServer as createHttp2Server, createSecureServer as createSecureHttp2Server } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectHints } from '../../server/hints/collect.js';
import { headerInstances } from '../../server/hints/forwarding-header.js';
import {
  createProxyProtocolServer,
  installProxyProtocol,
  proxyHeaderOf,
  type ProxyProtocolOptions,
  type ProxyRejectEvent,
} from '../../server/hints/proxy-connection.js';
import { peerAddressOf, trackPeerAddresses } from '../../server/hints/peer-address.js';
import { compileTrust } from '../../server/hints/trust.js';
import { listenOnFreePort } from '../support/ports.js';
import { buildV2, inetAddress, tlv } from './proxy-v2-builder.js';

const trust = compileTrust(['127.0.0.1']);
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve)))));
});

async function start(options: Partial<ProxyProtocolOptions> = {}, host = '127.0.0.1') {
  const rejects: ProxyRejectEvent[] = [];
  /** What the server did, in order: `served <url>` and `closed <reason>`. */
  const events: string[] = [];
  const server = createProxyProtocolServer(
    (req, res) => {
      events.push(`served ${req.url}`);
      const header = proxyHeaderOf(req.socket);
      const hints = collectHints({ l3: req.socket.remoteAddress, l4: header, headerValues: headerInstances(req.headersDistinct, 'x-forwarded-for'), trust });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, hints, uniqueId: header?.tlvs.uniqueId }));
    },
    {
      trustedProxies: trust,
      onReject: (event) => {
        rejects.push(event);
        events.push(`closed ${event.reason}`);
      },
      ...options,
    },
  );
  servers.push(server);
  return { port: await listenOnFreePort(server, host), rejects, events, server };
}

interface Exchange {
  text: string;
  closed: boolean;
  /** Chunks written before the exchange ended. */
  written: number;
}

/**
 * Writes the chunks (with a gap), collects everything, resolves when the server closes or
 * after `waitMs` — a safety limit, never the thing a test asserts.
 */
function exchange(
  port: number,
  chunks: (string | Buffer)[],
  { localAddress = '127.0.0.1', gapMs = 0, waitMs = 20_000, end = false, onWritten = () => {}, onClosed = () => {} } = {},
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress, noDelay: true });
    let text = '';
    let written = 0;
    let finished = false;
    const finish = (closed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (closed) onClosed();
      resolve({ text, closed, written });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.once('close', () => finish(true));
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        written++;
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (end) socket.end();
      onWritten();
    });
  });
}

const GET = (path = '/', extra = '') => `GET ${path} HTTP/1.1\r\nHost: backend\r\n${extra}Connection: close\r\n\r\n`;
const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { url: string; hints: Record<string, unknown>; uniqueId?: string };
const v1Header = 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n';

/** The number of connections the server still holds, once it has let go of all but `target`. */
async function connectionsDownTo(server: Server, target = 0): Promise<void> {
  for (let polls = 0; (await new Promise<number>((r) => server.getConnections((_, n) => r(n)))) > target; polls++) {
    if (polls > 2000) throw new Error('the server kept the connection');
    await new Promise((r) => setImmediate(r));
  }
}

/** A keep-alive client: `ask` writes bytes and resolves with the next JSON body, or undefined once the server closed. */
function keepAliveClient(port: number) {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  socket.on('error', () => {});
  let buffered = '';
  let closed = false;
  let wake = () => {};
  socket.on('data', (d) => ((buffered += d.toString('latin1')), wake()));
  socket.on('close', () => ((closed = true), wake()));
  const connected = new Promise((resolve) => socket.once('connect', resolve));
  return {
    socket,
    async ask(bytes: string): Promise<{ url: string; hints: Record<string, unknown> } | undefined> {
      await connected;
      socket.write(bytes);
      for (;;) {
        const m = /\r\n\r\n(\{[^\n]*?\})(?=HTTP|$)/.exec(buffered);
        if (m) {
          buffered = buffered.slice(m.index + m[0].length);
          return JSON.parse(m[1]!) as { url: string; hints: Record<string, unknown> };
        }
        if (closed) return undefined;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

describe('connection layer: trusted peers', () => {
  it('reads a v1 header and serves the request that follows, with the l4 hint', async () => {
    const { port } = await start();
    const r = await exchange(port, [v1Header + GET('/a', 'X-Forwarded-For: 203.0.113.9\r\n')]);
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    expect(bodyOf(r.text).hints).toEqual({ l3: '127.0.0.1', l4: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l4' });
  });

  it('reads a v2 header with TLVs', async () => {
    const { port } = await start();
    const header = buildV2({
      fam: 0x21,
      address: inetAddress([0x20, 1, 0xd, 0xb8, ...Array(11).fill(0), 7], Array(16).fill(1), 1, 2),
      tlvs: [tlv(5, 'req-42')],
      crc: true,
    });
    const body = bodyOf((await exchange(port, [Buffer.concat([header, Buffer.from(GET())])])).text);
    expect(body.hints.observed).toBe('2001:db8::7');
    expect(Buffer.from(body.uniqueId!, 'hex').toString()).toBe('req-42');
  });

  it('works when every byte arrives on its own', async () => {
    const { port } = await start();
    const bytes = Buffer.from(v1Header + GET('/slow'));
    const r = await exchange(
      port,
      [...bytes].map((b) => Buffer.from([b])),
      { gapMs: 1 },
    );
    expect(bodyOf(r.text)).toMatchObject({ url: '/slow', hints: { observed: '192.0.2.7' } });
  });

  it('every keep-alive request on a proxied connection sees the l4 hint', async () => {
    const { port } = await start();
    const socket: Socket = connect({ port, host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    const bodies: string[] = [];
    let buffered = '';
    socket.on('data', (d) => (buffered += d.toString()));
    const next = () =>
      new Promise<void>((resolve) => {
        const check = () => {
          const m = /\r\n\r\n(\{[^\n]*?\})(?=HTTP|$)/.exec(buffered);
          if (!m) return void setTimeout(check, 5);
          bodies.push(m[1]!);
          buffered = buffered.slice(m.index + m[0].length);
          resolve();
        };
        check();
      });
    socket.write(v1Header + 'GET /1 HTTP/1.1\r\nHost: b\r\n\r\n');
    await next();
    socket.write('GET /2 HTTP/1.1\r\nHost: b\r\n\r\nGET /3 HTTP/1.1\r\nHost: b\r\n\r\n'); // pipelined
    await next();
    await next();
    socket.destroy();
    expect(bodies.map((b) => JSON.parse(b) as { url: string; hints: { l4: string } }).map((b) => [b.url, b.hints.l4])).toEqual([
      ['/1', '192.0.2.7'],
      ['/2', '192.0.2.7'],
      ['/3', '192.0.2.7'],
    ]);
  });

  it('closes a connection without a header when the header is required, and serves it when optional', async () => {
    const required = await start();
    const closed = await exchange(required.port, [GET()]);
    expect(closed).toMatchObject({ text: '', closed: true });
    expect(required.rejects).toEqual([{ reason: 'missing-header', detail: undefined, remoteAddress: '127.0.0.1' }]);

    const optional = await start({ proxyProtocol: 'optional' });
    const served = await exchange(optional.port, [GET('/', 'X-Forwarded-For: 192.0.2.9\r\n')]);
    expect(bodyOf(served.text).hints).toMatchObject({ l3: '127.0.0.1', l7: ['192.0.2.9'], observed: '192.0.2.9' });
  });

  it('closes on an invalid header and says which rule it broke', async () => {
    const { port, rejects } = await start();
    const r = await exchange(port, ['PROXY TCP4 010.0.0.1 127.0.0.1 1 2\r\n' + GET()]);
    expect(r).toMatchObject({ text: '', closed: true });
    expect(rejects).toMatchObject([{ reason: 'invalid-header', detail: 'v1-bad-address' }]);
  });

  it('closes when the peer ends inside the header, without waiting for the timeout', async () => {
    // a timeout no test outlives: only the FIN can have closed it
    const { port, rejects } = await start({ timeoutMs: 600_000 });
    const r = await exchange(port, ['PROXY TCP4 192.0'], { end: true });
    expect(r.closed).toBe(true);
    expect(rejects).toMatchObject([{ reason: 'invalid-header', detail: 'truncated' }]);
  });

  it('the timeout is absolute: trickling bytes does not extend it', async () => {
    const { port, rejects } = await start({ timeoutMs: 300 });
    // 94 bytes, no CRLF, under v1's 107: never complete, never too long — only a deadline ends it
    const trickle = `PROXY UNKNOWN ${'x'.repeat(80)}`.split('');
    const r = await exchange(port, trickle, { gapMs: 50 });
    expect(r.closed).toBe(true);
    expect(rejects).toMatchObject([{ reason: 'timeout' }]);
    // every gap (50 ms) is far shorter than the timeout: an idle timer would have let all 94 bytes in
    expect(r.written).toBeLessThan(trickle.length);
  });

  it('a peer that half-closes after a keep-alive request gets the answer, and is no rejection', async () => {
    const { port, rejects } = await start({ timeoutMs: 600_000 });
    const keepAlive = (path: string) => `GET ${path} HTTP/1.1\r\nHost: backend\r\n\r\n`;
    const proxied = await exchange(port, [v1Header + keepAlive('/half')], { end: true });
    expect(proxied.closed).toBe(true);
    expect(bodyOf(proxied.text)).toMatchObject({ url: '/half', hints: { l4: '192.0.2.7', observed: '192.0.2.7' } });
    const direct = await exchange(port, [keepAlive('/half-direct')], { localAddress: '127.0.0.5', end: true });
    expect(bodyOf(direct.text)).toMatchObject({ url: '/half-direct', hints: { observed: '127.0.0.5' } });
    expect(rejects).toEqual([]);
  });

  it('once the header is read the timeout is over: a keep-alive connection outlives it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { port, rejects } = await start({ timeoutMs: 1000 });
      const client = keepAliveClient(port);
      expect(await client.ask(`${v1Header}GET /1 HTTP/1.1\r\nHost: b\r\n\r\n`)).toMatchObject({ url: '/1', hints: { l4: '192.0.2.7' } });
      vi.advanceTimersByTime(5000);
      expect(await client.ask('GET /2 HTTP/1.1\r\nHost: b\r\n\r\n')).toMatchObject({ url: '/2', hints: { l4: '192.0.2.7' } });
      client.socket.destroy();
      expect(rejects).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an onReject hook that throws does not take the server down', async () => {
    const { port } = await start({
      onReject: () => {
        throw new Error('the logging hook failed');
      },
    });
    expect(await exchange(port, [GET()])).toMatchObject({ text: '', closed: true }); // missing-header: the hook throws
    expect(await exchange(port, ['PROXY TCP4 010.0.0.1 127.0.0.1 1 2\r\n'])).toMatchObject({ text: '', closed: true });
    expect(bodyOf((await exchange(port, [v1Header + GET('/after')])).text)).toMatchObject({ url: '/after', hints: { l4: '192.0.2.7' } });
  });

  it('a peer whose address cannot be read at accept is never a trusted proxy (PROTOCOL §4.1)', async () => {
    const { port, rejects, server } = await start();
    // what a peer that reset before its connection was handed over reads as
    server.prependListener('connection', (socket: Socket) => Object.defineProperty(socket, 'remoteAddress', { value: undefined }));
    const r = await exchange(port, [v1Header + GET()]);
    expect(r).toMatchObject({ text: '', closed: true });
    expect(rejects).toEqual([{ reason: 'untrusted-header', detail: undefined, remoteAddress: undefined }]);
  });

  it('on an IPv6 listener an IPv4 proxy (::ffff:127.0.0.1 to the socket) is matched as its IPv4 address', async () => {
    const asked: string[] = [];
    const matcher = { ranges: ['127.0.0.1/32'], contains: (address: string) => (asked.push(address), address === '127.0.0.1') };
    // an IPv6 socket bound to a mapped address: what a dual-stack listener sees, on loopback only
    const { port, rejects } = await start({ trustedProxies: matcher }, '::ffff:127.0.0.1');
    const r = await exchange(port, [v1Header + GET('/dual')]);
    expect(rejects).toEqual([]);
    expect(bodyOf(r.text)).toMatchObject({ url: '/dual', hints: { l4: '192.0.2.7' } });
    expect(asked).toContain('127.0.0.1');
    expect(asked.filter((a) => a.startsWith('::ffff:'))).toEqual([]);
  });
});

describe('connection layer: connections that end by themselves', () => {
  it('a reset inside a header, or a FIN before the first bytes decide, closes quietly: no rejection', async () => {
    const { port, rejects, server } = await start({ timeoutMs: 600_000 });
    // reset only once the server has read the bytes: a reset racing them can read as a plain FIN
    let serverRead = () => {};
    const read = new Promise<void>((resolve) => (serverRead = resolve));
    server.prependListener('connection', (socket: Socket) => socket.once('data', () => serverRead()));
    await new Promise<void>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      socket.on('connect', () => {
        socket.write('PROXY TCP4 192.0');
        void read.then(() => socket.resetAndDestroy());
      });
    });
    expect(await exchange(port, ['PRO'], { localAddress: '127.0.0.5', end: true })).toMatchObject({ text: '', closed: true });
    await connectionsDownTo(server);
    expect(rejects).toEqual([]);
  });

  it('a connection closed by someone else before its header is not reported as a timeout later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { port, rejects, server } = await start({ timeoutMs: 1000 });
      // a listener added after the layer sees sockets before they are vetted: here, a deny-all limiter
      server.on('connection', (socket: Socket) => socket.destroy());
      expect(await exchange(port, ['PROXY TCP4 192.0'])).toMatchObject({ text: '', closed: true });
      await connectionsDownTo(server);
      vi.advanceTimersByTime(5000);
      expect(rejects).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('connection layer: untrusted peers', () => {
  it('closes a connection that starts with a PROXY header, v1 or v2, even split', async () => {
    const { port, rejects } = await start();
    const attempts = [
      [v1Header + GET()],
      ['PRO', 'XY TCP4 '],
      [Buffer.concat([buildV2({ address: inetAddress([192, 0, 2, 7], [127, 0, 0, 1], 1, 2) }), Buffer.from(GET())])],
    ];
    for (const chunks of attempts) {
      const r = await exchange(port, chunks, { localAddress: '127.0.0.5', gapMs: 20 });
      expect(r).toMatchObject({ text: '', closed: true });
    }
    expect(rejects.map((e) => [e.reason, e.remoteAddress])).toEqual(Array(3).fill(['untrusted-header', '127.0.0.5']));
  });

  it('serves plain HTTP whose first bytes arrive one by one, every byte intact', async () => {
    const { port, rejects } = await start();
    for (const method of ['PUT', 'POST', 'GET']) {
      const request = `${method} /split HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
      const r = await exchange(port, [request[0]!, request[1]!, request.slice(2)], { localAddress: '127.0.0.5', gapMs: 20 });
      expect(bodyOf(r.text), method).toMatchObject({ url: '/split', hints: { observed: '127.0.0.5' } });
    }
    expect(rejects).toEqual([]);
  });

  it('serves plain HTTP, including methods that begin like PROXY', async () => {
    const { port } = await start();
    for (const method of ['GET', 'POST', 'PROPFIND', 'PUT']) {
      const r = await exchange(port, [`${method} /m HTTP/1.1\r\nHost: b\r\nX-Forwarded-For: 192.0.2.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`], {
        localAddress: '127.0.0.5',
      });
      expect(bodyOf(r.text).hints, method).toEqual({ l3: '127.0.0.5', l7: [], observed: '127.0.0.5', decidedBy: 'l3' });
    }
  });
});

describe('connection layer: v2 headers of every size the spec allows', () => {
  const v4Block = inetAddress([192, 0, 2, 60], [127, 0, 0, 1], 40000, 80);
  /** A TCP4 header of exactly `total` bytes, padded with one NOOP TLV. */
  const padded = (total: number) => buildV2({ address: v4Block, tlvs: [tlv(0x04, Buffer.alloc(total - 16 - 12 - 3))] });
  const maximal = padded(16 + 0xffff);
  const chunked = (bytes: Buffer, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

  it.each([
    ['2,060 bytes', padded(2060)],
    ['a 2,048-byte NOOP TLV (2,079 bytes)', buildV2({ address: v4Block, tlvs: [tlv(0x04, Buffer.alloc(2048))] })],
    ['the 16-bit length at its maximum (65,551 bytes)', maximal],
  ])('a trusted peer sends %s: accepted by default, the request behind it served', async (_size, header) => {
    const { port, rejects } = await start();
    const r = await exchange(port, [Buffer.concat([header, Buffer.from(GET('/big'))])]);
    expect(rejects).toEqual([]);
    expect(bodyOf(r.text)).toMatchObject({ url: '/big', hints: { l4: '192.0.2.60', observed: '192.0.2.60' } });
  });

  it('a maximal header in 1,000-byte pieces, the request in the same write as its last piece', async () => {
    const { port, rejects } = await start();
    const stream = Buffer.concat([maximal, Buffer.from(GET('/pieces'))]);
    const r = await exchange(port, chunked(stream, 1000), { gapMs: 1 });
    expect(rejects).toEqual([]);
    expect(bodyOf(r.text)).toMatchObject({ url: '/pieces', hints: { l4: '192.0.2.60' } });
  });

  it('a lower cap is an explicit option: over it, closed as v2-too-long', async () => {
    const { port, rejects } = await start({ maxHeaderBytes: 2048 });
    const r = await exchange(port, [Buffer.concat([padded(2060), Buffer.from(GET())])]);
    expect(r).toMatchObject({ text: '', closed: true });
    expect(rejects).toMatchObject([{ reason: 'invalid-header', detail: 'v2-too-long' }]);
  });
});

describe('connection layer under load', () => {
  it('500 half-sent headers are all closed at the timeout, and a normal request is served before any of them', async () => {
    const { port, rejects, events, server } = await start({ timeoutMs: 2000 });
    let written = 0;
    let allWritten = () => {};
    const sent = new Promise<void>((resolve) => (allWritten = resolve));
    const onWritten = () => ++written === 500 && allWritten();
    let stalledClosed = 0;
    const onClosed = () => void stalledClosed++;
    const stalled = Array.from({ length: 500 }, () => exchange(port, ['PROXY TCP4 192.0.2.1 '], { onWritten, onClosed }));
    await sent;
    // the server holds all 500 (accepted, waiting for the rest of their headers): not a connect storm
    for (let polls = 0; (await new Promise<number>((r) => server.getConnections((_, n) => r(n)))) < 500; polls++) {
      if (polls > 2000) throw new Error('the server never held 500 connections');
      await new Promise((r) => setTimeout(r, 10));
    }
    const quick = await new Promise<{ body: string; stalledClosed: number }>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', localAddress: '127.0.0.5', path: '/quick' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          events.push('answered /quick');
          resolve({ body, stalledClosed });
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(JSON.parse(quick.body)).toMatchObject({ url: '/quick', hints: { observed: '127.0.0.5' } });
    expect(quick.stalledClosed).toBe(0);
    const results = await Promise.all(stalled);
    expect(results.every((r) => r.closed && r.text === '')).toBe(true);
    // order, not milliseconds: served and answered first, then the 500 closed by their timeout
    expect(events).toEqual(['served /quick', 'answered /quick', ...Array<string>(500).fill('closed timeout')]);
    expect(rejects).toHaveLength(500);
  });
});

describe('Fastify serverFactory', () => {
  it('serves through the layer and exposes the header to request handlers', async () => {
    const app = Fastify({
      serverFactory: (handler) => createProxyProtocolServer(handler, { trustedProxies: ['127.0.0.1'] }),
    });
    app.get('/who', async (request) => proxyHeaderOf(request.raw.socket)?.source ?? null);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as { port: number }).port;
      const r = await exchange(port, [v1Header + GET('/who')]);
      expect(bodyOf(r.text)).toEqual({ address: '192.0.2.7', port: 40000 });
      expect((await exchange(port, [GET('/who')])).text).toBe(''); // required by default
    } finally {
      await app.close();
    }
  });
});

describe('options', () => {
  it.each([
    [{ proxyProtocol: 'maybe' }, /proxyProtocol/],
    [{ timeoutMs: 0 }, /timeoutMs/],
    [{ timeoutMs: 600_001 }, /timeoutMs/],
    [{ timeoutMs: 1.5 }, /timeoutMs/],
    [{ onReject: 'console.log' }, /onReject/],
    [{ maxHeaderBytes: 10 }, /maxHeaderBytes/],
    [{ maxHeaderBytes: 16 + 0xffff + 1 }, /maxHeaderBytes/],
    [{ trustedProxies: ['not-a-cidr'] }, /trustedProxies/],
    [{ timeout: 10 }, /^unknown option "timeout"/],
  ])('%j throws a TypeError naming it', (bad, pattern) => {
    expect(() => createProxyProtocolServer(undefined, { trustedProxies: [], ...(bad as object) })).toThrow(pattern);
  });

  it('installProxyProtocol hands each vetted socket to every connection listener the server had, once', async () => {
    const server = trackPeerAddresses(
      createServer((req, res) => res.end(JSON.stringify({ url: req.url, peer: peerAddressOf(req.socket), l4: proxyHeaderOf(req.socket)?.source?.address }))),
    );
    const handedOver: string[] = [];
    server.on('connection', (socket: Socket) => handedOver.push(proxyHeaderOf(socket)?.source?.address ?? 'none'));
    installProxyProtocol(server, { trustedProxies: trust });
    servers.push(server);
    const port = await listenOnFreePort(server);
    const r = await exchange(port, [v1Header + GET('/every')]);
    expect(bodyOf(r.text)).toEqual({ url: '/every', peer: '127.0.0.1', l4: '192.0.2.7' });
    expect(handedOver).toEqual(['192.0.2.7']);
  });

  it('a second installProxyProtocol on one server is a TypeError, and the first layer keeps serving', async () => {
    const server = trackPeerAddresses(createServer((req, res) => res.end(JSON.stringify({ url: req.url, l4: proxyHeaderOf(req.socket)?.source?.address }))));
    installProxyProtocol(server, { trustedProxies: trust });
    servers.push(server);
    // a second layer would wait for a second header, which no proxy sends: every connection closed
    expect(() => installProxyProtocol(server, { trustedProxies: trust })).toThrow(
      new TypeError('the PROXY protocol is already installed on this server: a second layer would close every connection'),
    );
    const port = await listenOnFreePort(server);
    const r = await exchange(port, [v1Header + GET('/once')]);
    expect(bodyOf(r.text)).toEqual({ url: '/once', l4: '192.0.2.7' });
  });

  it('installProxyProtocol on a TLS or HTTP/2 server is a TypeError: their layer would never see the bytes behind the header', () => {
    const refusal = new TypeError(
      'the PROXY protocol layer is for plain HTTP/1.1 servers, not TLS or HTTP/2 ones, which would fail every connection: terminate TLS at the proxy',
    );
    for (const server of [createHttpsServer(), createHttp2Server(), createSecureHttp2Server()]) {
      const own = server.listeners('connection');
      expect(() => installProxyProtocol(server, { trustedProxies: trust })).toThrow(refusal);
      // nothing was taken over: the server's own connection handling is where it was
      expect(server.listeners('connection')).toEqual(own);
    }
    expect(() => installProxyProtocol(createNetServer(), { trustedProxies: trust })).not.toThrow();
  });

  it('installProxyProtocol takes no server options (createProxyProtocolServer takes `http` beside its own)', () => {
    expect(() => createProxyProtocolServer(undefined, { trustedProxies: [], http: {} })).not.toThrow();
    expect(() => installProxyProtocol(createServer(), { trustedProxies: [], http: {} } as never)).toThrow(new TypeError('unknown option "http"'));
  });
});
