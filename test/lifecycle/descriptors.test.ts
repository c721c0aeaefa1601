import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { listenOnFreePort } from '../support/ports.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

/**
 * The file descriptors of `ipstamp serve` and `gateway` (the built CLI, each its own process)
 * after 1,000 connections each that the client resets partway: inside a PROXY header (v1 and
 * v2), inside a request head, inside a body the server reads for `cdg`, inside a body the
 * gateway is streaming to its upstream. Each must be closed, and the upstream request with it:
 * /proc/PID/fd comes back to what it was. reset-connection.test.ts pins what such a reset
 * does to the verdict; this, what it leaves open.
 */

const CONNECTIONS = 1000;
/** Connections reset at once: a burst, as from a scanner, not one at a time. */
const BATCH = 50;
/** Two for what the process may open lazily (a log pipe, an eventfd); a leak is hundreds. */
const MARGIN = 2;
const scratch = scratchDir();
let key: TestKeyPair;
let keysFile: string;

beforeAll(async () => {
  key = await makeKey('ES256', 'descriptors');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
});
afterAll(() => scratch.cleanup());

function openDescriptors(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // a reset it did not catch (an 'error' without a listener) ends the process
    throw new Error(`process ${pid} is gone`);
  }
}

/**
 * Polls until `pid` holds at most `limit` descriptors: a close the server saw is done a few turns
 * later, and the gateway's idle upstream connections close at undici's keep-alive timeout (4 s).
 * `giveUpMs` only ends a wait for what never comes; the count then is the answer.
 */
async function descriptorsSettled(pid: number, limit: number, giveUpMs = 15_000): Promise<number> {
  const deadline = performance.now() + giveUpMs;
  let count = openDescriptors(pid);
  while (count > limit && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    count = openDescriptors(pid);
  }
  return count;
}

/** Connects, writes `bytes`, waits for `before` (if any), then resets (RST, not FIN). */
function writeThenReset(port: number, bytes: string | Buffer, before?: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.on('connect', () =>
      socket.write(bytes, () => {
        void (before ?? (() => Promise.resolve()))().then(() => socket.resetAndDestroy());
      }),
    );
  });
}

/** `count` connections made by `one(i)`, `BATCH` at a time. */
async function inBatches(count: number, one: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, count - start) }, (_, j) => one(start + j)));
  }
}

function stamp(port: number, method: string, path: string, ip: string, body?: string): Promise<string> {
  return createStamper({ key: key.privateJwk, ip, bodyDigest: body !== undefined }).stamp({ method, url: `http://127.0.0.1:${port}${path}`, body });
}

describe('ipstamp serve --proxy-protocol --trusted-proxies 127.0.0.1', () => {
  let serve: RunningServe;
  beforeAll(async () => {
    serve = await startServe(['--port', '0', '--keys', keysFile, '--proxy-protocol', '--trusted-proxies', '127.0.0.1']);
  });
  afterAll(async () => {
    await serve?.stop();
  });

  it('1,000 connections reset inside a PROXY header, a request head or a body read for cdg leave no descriptor open', async () => {
    const before = openDescriptors(serve.pid);
    const { port } = serve;
    const proxyV1 = 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\n';
    const body = 'b'.repeat(4096);
    const stamps = await Promise.all(Array.from({ length: CONNECTIONS / 4 }, () => stamp(port, 'POST', '/upload', '203.0.113.9', body)));
    const partial: ((i: number) => string | Buffer)[] = [
      () => proxyV1.slice(0, 20),
      // the v2 signature and the start of its fixed part
      () => Buffer.from('0d0a0d0a000d0a515549540a2111', 'hex'),
      () => `${proxyV1}GET /orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Half: `,
      (i) =>
        `${proxyV1}POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nClient-IP-Attestation: ${stamps[Math.floor(i / 4)]}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 1000)}`,
    ];
    await inBatches(CONNECTIONS, (i) => writeThenReset(port, partial[i % 4]!(i)));
    expect(await descriptorsSettled(serve.pid, before + MARGIN)).toBeLessThanOrEqual(before + MARGIN);
  }, 120_000);
});

describe('ipstamp gateway --upstream', () => {
  let upstream: Server;
  const arrived = new Set<string>();
  let gateway: RunningServe;
  beforeAll(async () => {
    // takes each body as it comes and never answers before it ends: the request stays open until the gateway ends it
    upstream = createServer((req, res) => {
      arrived.add(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('done'));
    });
    const upstreamPort = await listenOnFreePort(upstream);
    gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`], 'gateway');
  });
  afterAll(async () => {
    await gateway?.stop();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('1,000 connections reset inside a request head, or inside a body already streaming upstream, leave no descriptor open', async () => {
    const before = openDescriptors(gateway.pid);
    const { port } = gateway;
    const streamed = CONNECTIONS / 2;
    const stamps = await Promise.all(Array.from({ length: streamed }, (_, i) => stamp(port, 'POST', `/stream/${i}`, '127.0.0.1')));
    /** Until the upstream has the request: the reset then cuts a body in flight to it. */
    const upstreamHas = (path: string) => async (): Promise<void> => {
      for (const giveUp = performance.now() + 5000; !arrived.has(path) && performance.now() < giveUp;) await new Promise((r) => setTimeout(r, 5));
    };
    await inBatches(CONNECTIONS, (i) => {
      if (i % 2 === 0) return writeThenReset(port, `GET /orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Half: `);
      const n = (i - 1) / 2;
      const head = `POST /stream/${n} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nClient-IP-Attestation: ${stamps[n]}\r\nContent-Length: 100000\r\n\r\n`;
      return writeThenReset(port, `${head}${'b'.repeat(5000)}`, upstreamHas(`/stream/${n}`));
    });
    // each streamed request reached the upstream before its reset
    expect(arrived.size).toBe(streamed);
    expect(await descriptorsSettled(gateway.pid, before + MARGIN)).toBeLessThanOrEqual(before + MARGIN);
  }, 120_000);
});
