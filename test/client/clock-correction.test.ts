import { serve as serveHono } from '@hono/node-server';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { createStampedFetch, generateStampKey } from '../../client/index.js';
import { ipstampInterceptor } from '../../client/interceptor.node.js';
import { ipstamp as fastifyIpstamp } from '../../server/fastify/plugin.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { ipstamp as honoIpstamp } from '../../server/hono/middleware.js';
import { ipstamp as nodeIpstamp } from '../../server/node/middleware.js';
import { REASON_STATUS, REASON_TITLES, REASONS, type Reason } from '../../shared/reasons.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { startVerifyingServer, type Reply, type VerifyingServer } from '../support/verifying-server.js';

/**
 * Issue 18, clients with wrong clocks: the client's clock is shifted (its `now` option), the
 * servers are real — node:http around the verifier core in this process, and `ipstamp serve`
 * as a process — and their `Date` header is the only thing that tells the client their time.
 */
const MINUTE = 60_000;

let key: TestKeyPair;
let server: VerifyingServer;

beforeAll(async () => {
  key = await makeKey('ES256');
  server = await startVerifyingServer({ keys: [key.publicJwk] });
});
afterAll(() => server?.close());

const outcomes = (from: number) => server.attempts.slice(from).map((a) => (a.result.ok ? 'ok' : a.result.reason));
const shifted = (shiftMs: number) => () => Date.now() + shiftMs;

function problem(reason: Reason, headers: Record<string, string> = {}): Reply {
  const status = REASON_STATUS[reason];
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify({ type: `urn:ipstamp:${reason}`, title: REASON_TITLES[reason], status, reason }),
  };
}

describe('a client whose clock is wrong, against a real verifier (node:http, this process)', () => {
  for (const [shift, reason] of [
    [-2 * MINUTE, 'expired'],
    [+2 * MINUTE, 'not-yet-valid'],
  ] as const) {
    it(`clock ${shift < 0 ? 'behind' : 'ahead'} by 2 min: refused ${reason} once, then accepted with the server's time; the next call needs no retry`, async () => {
      const from = server.attempts.length;
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(shift), bodyDigest: true });
      const response = await stampedFetch(server.url, { method: 'POST', body: '{"item":"tea"}' });
      expect(response.status).toBe(200);
      expect(outcomes(from)).toEqual([reason, 'ok']);
      const [refused, accepted] = server.attempts.slice(from);
      // the retry is a new stamp (new jti), signed about `shift` away from the refused one
      expect(accepted!.claims!.jti).not.toBe(refused!.claims!.jti);
      expect(Math.sign((accepted!.claims!.iat as number) - (refused!.claims!.iat as number))).toBe(-Math.sign(shift));

      expect((await stampedFetch(server.url)).status).toBe(200);
      expect(outcomes(from + 2)).toEqual(['ok']);
    });
  }

  it('five calls refused at once are each sent once more: the first to learn the time does not leave the others refused', async () => {
    const from = server.attempts.length;
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(-2 * MINUTE) });
    const statuses = await Promise.all(Array.from({ length: 5 }, (_, i) => stampedFetch(`${server.url}?n=${i}`).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const sorted = outcomes(from).sort();
    expect(sorted).toEqual(['expired', 'expired', 'expired', 'expired', 'expired', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it("ip: 'echo' learns the time with the address: the first stamp is already accepted", async () => {
    const from = server.attempts.length;
    const echoes = server.echoCount;
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', now: shifted(-3 * MINUTE) });
    expect((await stampedFetch(server.url)).status).toBe(200);
    expect(server.echoCount).toBe(echoes + 1);
    expect(outcomes(from)).toEqual(['ok']);
  });

  it('a clock further off than the bound is not corrected: one request, the refusal returned', async () => {
    const from = server.attempts.length;
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(-10 * MINUTE) });
    const response = await stampedFetch(server.url);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ reason: 'expired' });
    expect(outcomes(from)).toEqual(['expired']);
  });

  it('maxClockCorrectionMs widens the bound (10 min off, bound 15 min: accepted) and 0 turns correction off', async () => {
    const from = server.attempts.length;
    const wide = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(-10 * MINUTE), maxClockCorrectionMs: 15 * MINUTE });
    expect((await wide(server.url)).status).toBe(200);
    expect(outcomes(from)).toEqual(['expired', 'ok']);

    const off = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(-2 * MINUTE), maxClockCorrectionMs: 0 });
    expect((await off(server.url)).status).toBe(401);
    expect(outcomes(from + 2)).toEqual(['expired']);
  });

  it('a streamed body cannot be sent again: the refusal is returned, and the next call is stamped with the corrected time', async () => {
    const from = server.attempts.length;
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(2 * MINUTE) });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const refused = await stampedFetch(server.url, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: 'not-yet-valid' });
    expect(outcomes(from)).toEqual(['not-yet-valid']);

    expect((await stampedFetch(server.url, { method: 'POST', body: 'bytes' })).status).toBe(200);
    expect(outcomes(from + 1)).toEqual(['ok']);
  });

  it('an ordinary answer teaches nothing: a 200 dated 2 min ahead (a cached answer, say) leaves the signing time alone', async () => {
    const ahead = new Date(Date.now() + 2 * MINUTE).toUTCString();
    const dated = await startVerifyingServer({
      keys: [key.publicJwk],
      route: (a) => (a.result.ok ? { status: 200, headers: { date: ahead }, body: 'ok' } : undefined),
    });
    try {
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
      expect((await stampedFetch(dated.url)).status).toBe(200);
      expect((await stampedFetch(dated.url)).status).toBe(200);
      expect(dated.attempts.map((a) => a.result.ok)).toEqual([true, true]);
    } finally {
      await dated.close();
    }
  });
});

describe('the undici interceptor and a clock 2 min behind', () => {
  it('learns from the refusal, without resending it: the next request is accepted', async () => {
    const from = server.attempts.length;
    const agent = new Agent().compose(ipstampInterceptor({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(-2 * MINUTE) }));
    try {
      const first = await request(server.url, { dispatcher: agent });
      expect(first.statusCode).toBe(401);
      expect(await first.body.json()).toMatchObject({ reason: 'expired' });
      expect((await request(server.url, { dispatcher: agent })).statusCode).toBe(200);
      expect(outcomes(from)).toEqual(['expired', 'ok']);
    } finally {
      await agent.close();
    }
  });

  it("with ip: 'echo', the echo's answer sets the time: the first request is accepted", async () => {
    const from = server.attempts.length;
    const agent = new Agent().compose(ipstampInterceptor({ key: key.privateJwk, ip: 'echo', now: shifted(-2 * MINUTE) }));
    try {
      const first = await request(server.url, { dispatcher: agent });
      expect(first.statusCode).toBe(200);
      await first.body.dump();
      expect(outcomes(from)).toEqual(['ok']);
    } finally {
      await agent.close();
    }
  });

  it('beyond the bound (10 min off) nothing is learned: the next request is refused too', async () => {
    const from = server.attempts.length;
    const agent = new Agent().compose(ipstampInterceptor({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(-10 * MINUTE) }));
    try {
      for (let i = 0; i < 2; i++) await (await request(server.url, { dispatcher: agent })).body.dump();
      expect(outcomes(from)).toEqual(['expired', 'expired']);
    } finally {
      await agent.close();
    }
  });
});

describe('the retry: at most once, and only for expired and not-yet-valid', () => {
  let refusing: VerifyingServer;
  let reason: Reason = 'expired';
  let dateShiftMs = 0;
  let firstOfCall = 0;

  beforeAll(async () => {
    // Refuses every request with `reason`, dated `dateShiftMs` from now plus 30 s more per request:
    // a server whose story keeps changing would get a retry after every answer if one were allowed.
    refusing = await startVerifyingServer({
      keys: [key.publicJwk],
      route: (_attempt, index) => problem(reason, { date: new Date(Date.now() + dateShiftMs + (index - firstOfCall) * 30_000).toUTCString() }),
    });
  });
  afterAll(() => refusing?.close());

  async function requestsFor(refusal: Reason, shiftMs: number): Promise<{ sent: number; status: number; reason: unknown }> {
    reason = refusal;
    dateShiftMs = shiftMs;
    const from = refusing.attempts.length;
    firstOfCall = from;
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const response = await stampedFetch(refusing.url, { method: 'PUT', body: 'again' });
    const body = (await response.json()) as { reason?: unknown };
    return { sent: refusing.attempts.length - from, status: response.status, reason: body.reason };
  }

  it('expired and not-yet-valid with a Date that moves on every answer: two requests, the second refusal returned', async () => {
    expect(await requestsFor('expired', -2 * MINUTE)).toEqual({ sent: 2, status: 401, reason: 'expired' });
    expect(await requestsFor('not-yet-valid', 2 * MINUTE)).toEqual({ sent: 2, status: 401, reason: 'not-yet-valid' });
  });

  it('a clock refusal dated now (the client clock is right): no retry, nothing to correct', async () => {
    expect(await requestsFor('expired', 0)).toEqual({ sent: 1, status: 401, reason: 'expired' });
  });

  const others = REASONS.filter((r) => r !== 'expired' && r !== 'not-yet-valid');
  it(`every other reason (${others.length}: ${others.join(', ')}) dated 2 min off: one request`, async () => {
    for (const other of others) {
      expect({ other, ...(await requestsFor(other, 2 * MINUTE)) }).toEqual({ other, sent: 1, status: REASON_STATUS[other], reason: other });
    }
  });
});

describe('refusals larger than any problem+json', () => {
  // A body past the SDK's 4 KB bound is read from a clone and cancelled there; a tee'd clone's
  // cancel settles only once the other branch is cancelled too, so it must not be awaited.
  for (const [status, reason, ip] of [
    [401, 'expired', '127.0.0.1'],
    [403, 'ip-mismatch', 'echo'],
  ] as const) {
    it(`a ${status} problem+json of 64 KB is handed back whole, not waited on`, async () => {
      const pad = 'x'.repeat(65_536);
      const big = await startVerifyingServer({
        keys: [key.publicJwk],
        route: () => ({ status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ reason, status, pad }) }),
      });
      try {
        const stampedFetch = createStampedFetch({ key: key.privateJwk, ip, now: shifted(-2 * MINUTE) });
        const response = await stampedFetch(big.url);
        expect(response.status).toBe(status);
        expect(((await response.json()) as { pad: string }).pad).toBe(pad);
        expect(big.attempts).toHaveLength(1);
      } finally {
        await big.close();
      }
    });
  }
});

describe('ipstamp serve (a process) and a client 2 min behind', () => {
  const scratch = scratchDir();
  let serve: RunningServe;

  beforeAll(async () => {
    serve = await startServe(['--port', '0', '--keys', scratch.file('keys.json', { keys: [key.publicJwk] })]);
  });
  afterAll(async () => {
    await serve?.stop();
    scratch.cleanup();
  });

  it('the first answer is 401 expired, the retry 200; its echo route teaches the time up front', async () => {
    const statuses: number[] = [];
    const counting = async (input: string | URL | Request, init?: RequestInit) => {
      const response = await fetch(input, init);
      statuses.push(response.status);
      return response;
    };
    const staticIp = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', now: shifted(-2 * MINUTE), fetch: counting });
    expect((await staticIp(`${serve.url}/anything`)).status).toBe(200);
    expect(statuses).toEqual([401, 200]);

    statuses.length = 0;
    const echo = createStampedFetch({ key: key.privateJwk, ip: 'echo', now: shifted(-2 * MINUTE), fetch: counting });
    expect((await echo(`${serve.url}/anything`)).status).toBe(200);
    expect(statuses).toEqual([200, 200]); // the echo, then the stamped request
  });
});

interface Adapter {
  origin: string;
  close(): Promise<unknown>;
}

async function listening(server: Server): Promise<string> {
  if (!server.listening) await new Promise<void>((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closing = (server: Server) => () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));

/** Each adapter with a verifier whose own clock (`now`) runs `aheadMs` ahead of the machine's, which is what its Date shows. */
const ADAPTERS: Record<string, (keys: { keys: unknown[] }, aheadMs: number) => Promise<Adapter>> = {
  'ipstamp/fastify': async (keys, aheadMs) => {
    const app = Fastify();
    await app.register(fastifyIpstamp, { keys: keys as never, now: shifted(aheadMs) });
    app.get('/orders', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { origin: await listening(app.server), close: () => app.close() };
  },
  'ipstamp/node': async (keys, aheadMs) => {
    const middleware = nodeIpstamp({ keys: keys as never, now: shifted(aheadMs) });
    const server = createServer((req, res) => middleware(req, res, () => res.end('{"ok":true}')));
    trackPeerAddresses(server);
    server.listen(0, '127.0.0.1');
    return { origin: await listening(server), close: closing(server) };
  },
  'ipstamp/hono': async (keys, aheadMs) => {
    const app = new Hono();
    app.use('*', honoIpstamp({ keys: keys as never, now: shifted(aheadMs) }));
    app.get('/orders', (c) => c.json({ ok: true }));
    const server = serveHono({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    trackPeerAddresses(server);
    return { origin: await listening(server), close: closing(server) };
  },
};

describe("the echo route's time (PROTOCOL §6): a verifier whose own clock is 2 min ahead of its Date", () => {
  for (const [name, start] of Object.entries(ADAPTERS)) {
    it(`${name}: the echo answers the verifier's time; ip: 'echo' signs with it and is accepted at once`, async () => {
      const adapter = await start({ keys: [key.publicJwk] }, 2 * MINUTE);
      try {
        const echo = await fetch(`${adapter.origin}/.well-known/ipstamp`);
        const body = (await echo.json()) as { ip: string; time: number };
        expect(body.ip).toBe('127.0.0.1');
        const dateSecond = Date.parse(echo.headers.get('date')!) / 1000;
        expect(body.time - dateSecond).toBeGreaterThan(60); // the verifier's clock, not the machine's

        const statuses: string[] = [];
        const counting = async (input: string, init?: RequestInit) => {
          const response = await fetch(input, init);
          statuses.push(`${response.status} ${new URL(input).pathname}`);
          return response;
        };
        const viaEcho = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: counting });
        expect((await viaEcho(`${adapter.origin}/orders`)).status).toBe(200);
        expect(statuses).toEqual(['200 /.well-known/ipstamp', '200 /orders']);

        // A static address learns only from the refusal's Date, the machine's clock, which agrees
        // with the client's: nothing to correct, so the refusal comes back without a retry.
        statuses.length = 0;
        const staticIp = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', fetch: counting });
        expect((await staticIp(`${adapter.origin}/orders`)).status).toBe(401);
        expect(statuses).toEqual(['401 /orders']);
      } finally {
        await adapter.close();
      }
    });
  }
});

describe("ip: 'ticket' with a clock 2 min behind (node middleware: an edge issuer, an api on another origin)", () => {
  it('the proof is refused once and signed again at the edge’s time; the stamp, per origin, once more at the api’s', async () => {
    const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };
    const edgeMiddleware = nodeIpstamp({ keys: { keys: [] }, issuer: { key: issuerKey } });
    const edge = createServer((req, res) => edgeMiddleware(req, res, () => res.end()));
    trackPeerAddresses(edge).listen(0, '127.0.0.1');
    const edgeOrigin = await listening(edge);
    const apiMiddleware = nodeIpstamp({ keys: { keys: [] }, issuers: { [edgeOrigin]: `${edgeOrigin}/.well-known/ipstamp/issuer-jwks` } });
    const api = createServer((req, res) => apiMiddleware(req, res, () => res.end('{"ok":true}')));
    trackPeerAddresses(api).listen(0, '127.0.0.1');
    const apiOrigin = await listening(api);
    try {
      const seen: string[] = [];
      const counting = async (input: string, init?: RequestInit) => {
        const response = await fetch(input, init);
        const url = new URL(input);
        seen.push(`${response.status} ${url.origin === edgeOrigin ? 'edge' : 'api'} ${url.pathname}`);
        return response;
      };
      const key = await generateStampKey({ alg: 'ES256' });
      const stampedFetch = createStampedFetch({ key, ip: 'ticket', issuer: edgeOrigin, now: shifted(-2 * MINUTE), fetch: counting });
      expect((await stampedFetch(`${apiOrigin}/orders`, { method: 'POST', body: 'tea' })).status).toBe(200);
      expect(seen).toEqual(['401 edge /.well-known/ipstamp/ticket', '200 edge /.well-known/ipstamp/ticket', '401 api /orders', '200 api /orders']);
    } finally {
      await closing(edge)();
      await closing(api)();
    }
  });
});
