import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp as fastifyIpstamp } from '../../server/fastify/plugin.js';
import { ipstamp as honoIpstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as honoWebIpstamp } from '../../server/hono/web.js';
import { ipstamp as nodeIpstamp, trackPeerAddresses } from '../../server/node/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

/**
 * `reportOnly` changes what is done with a refusal, never what is refused: for any request
 * sequence, the handler of a report-only app sees exactly what a strict app (same options, a
 * store of its own) answers — the same verdict when accepted, nothing when unstamped, and as
 * `ipStampRefusal` the reason the strict app refuses with. In every adapter.
 */
const NOW = 1_764_000_000_000;
const PEER = '127.0.0.1';
let key: TestKeyPair;
let forger: TestKeyPair;

/** What the handler answers: the verdict's address, and the refusal it was told of. */
interface Seen {
  ip: string | null;
  refusal?: string | null;
  reason?: string;
}
/** One app: where it is, and how one GET with an optional stamp is sent to it. */
interface Target {
  readonly base: string;
  send(path: string, token: string | undefined): Promise<{ status: number; body: Seen }>;
}
/** The same adapter twice: strict, and report-only. */
type Pair = Record<'strict' | 'report', Target>;

const closers: (() => Promise<void>)[] = [];
const pairs: Record<string, Pair> = {};

async function fastifyTarget(reportOnly: boolean): Promise<Target> {
  const app: FastifyInstance = Fastify();
  await app.register(fastifyIpstamp, { keys: { keys: [key.publicJwk] }, now: () => NOW, replayStore: new MapReplayStore(), reportOnly });
  const seen = (request: { ipStamp: { ip: string } | null; ipStampRefusal: unknown }) => ({ ip: request.ipStamp?.ip ?? null, refusal: request.ipStampRefusal });
  app.get('/req', async (request) => seen(request));
  app.get('/opt', { config: { ipstamp: { required: false } } }, async (request) => seen(request));
  await app.ready();
  closers.push(() => app.close());
  return {
    base: 'http://api.example.com',
    async send(path, token) {
      const response = await app.inject({
        url: path,
        headers: { host: 'api.example.com', ...(token === undefined ? {} : { 'client-ip-attestation': token }) },
      });
      return { status: response.statusCode, body: response.json() };
    },
  };
}

async function nodeTarget(reportOnly: boolean): Promise<Target> {
  const stamp = nodeIpstamp({ keys: { keys: [key.publicJwk] }, now: () => NOW, replayStore: new MapReplayStore(), reportOnly });
  const server: Server = trackPeerAddresses(
    createServer((req, res) =>
      (req.url === '/opt' ? stamp.optional : stamp)(req, res, () =>
        res.end(JSON.stringify({ ip: req.ipStamp?.ip ?? null, refusal: req.ipStampRefusal ?? null })),
      ),
    ),
  );
  await new Promise<void>((done) => server.listen(0, PEER, done));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  const base = `http://${PEER}:${(server.address() as AddressInfo).port}`;
  return {
    base,
    async send(path, token) {
      const response = await fetch(`${base}${path}`, { headers: token === undefined ? {} : { 'client-ip-attestation': token } });
      return { status: response.status, body: (await response.json()) as Seen };
    },
  };
}

function honoTarget(make: typeof honoIpstamp | typeof honoWebIpstamp, reportOnly: boolean): Target {
  const options = { keys: { keys: [key.publicJwk] }, now: () => NOW, replayStore: new MapReplayStore(), reportOnly, connection: () => ({ l3: PEER }) };
  const app = new Hono<{ Variables: IpStampVariables }>();
  const answer = (c: { get: (name: 'ipStamp' | 'ipStampRefusal') => unknown; json: (body: unknown) => Response }) =>
    c.json({ ip: (c.get('ipStamp') as { ip: string } | null)?.ip ?? null, refusal: c.get('ipStampRefusal') ?? null });
  app.get('/req', make({ ...options, required: true }), (c) => answer(c));
  app.get('/opt', make({ ...options, required: false }), (c) => answer(c));
  const base = 'http://api.example.com';
  return {
    base,
    async send(path, token) {
      const response = await app.request(`${base}${path}`, { headers: token === undefined ? {} : { 'client-ip-attestation': token } });
      return { status: response.status, body: (await response.json()) as Seen };
    },
  };
}

beforeAll(async () => {
  // every report-only app says so once at creation: kept off the test output
  vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  key = await makeKey('ES256', 'prop-report');
  forger = await makeKey('ES256', 'prop-report');
  pairs.fastify = { strict: await fastifyTarget(false), report: await fastifyTarget(true) };
  pairs.node = { strict: await nodeTarget(false), report: await nodeTarget(true) };
  pairs.hono = { strict: honoTarget(honoIpstamp, false), report: honoTarget(honoIpstamp, true) };
  pairs.web = { strict: honoTarget(honoWebIpstamp, false), report: honoTarget(honoWebIpstamp, true) };
});
afterAll(async () => {
  vi.restoreAllMocks();
  for (const close of closers.splice(0)) await close();
});

/** A request as generated: which route, and the stamp it carries (none, garbage, or signed with these faults). */
const requestSpec = fc.record({
  path: fc.constantFrom('/req', '/opt'),
  stamp: fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('garbage', 'a.b.c'),
    fc.record({
      forged: fc.boolean(),
      ip: fc.constantFrom(PEER, '203.0.113.9', '::1'),
      otherPath: fc.boolean(),
      skewS: fc.constantFrom(0, -600, 600),
    }),
  ),
  // sent twice: the second is a replay of the first
  sends: fc.constantFrom(1, 2),
});

type StampSpec = (typeof requestSpec extends fc.Arbitrary<infer R> ? R : never)['stamp'];

async function tokenFor(spec: StampSpec, base: string, path: string): Promise<string | undefined> {
  if (spec === undefined || typeof spec === 'string') return spec;
  const stamper = createStamper({ key: (spec.forged ? forger : key).privateJwk, ip: spec.ip, now: () => NOW + spec.skewS * 1000 });
  return stamper.stamp({ method: 'GET', url: `${base}${spec.otherPath ? '/elsewhere' : path}` });
}

/** The strict app's answer in one word: `accepted <ip>`, `unstamped`, or `refused <reason>`. */
function strictOutcome({ status, body }: { status: number; body: Seen }): string {
  if (status !== 200) return `refused ${body.reason}`;
  return body.ip === null ? 'unstamped' : `accepted ${body.ip}`;
}

/** What the report-only app's handler saw, in the same words; it must always have run. */
function reportedOutcome({ status, body }: { status: number; body: Seen }): string {
  if (status !== 200) return `answered ${status}`;
  if (body.refusal !== null && body.refusal !== undefined) return body.ip === null ? `refused ${body.refusal}` : `accepted AND refused ${body.refusal}`;
  return body.ip === null ? 'unstamped' : `accepted ${body.ip}`;
}

describe('reportOnly: the handler sees what strict mode answers', () => {
  for (const name of ['fastify', 'node', 'hono', 'web']) {
    it(`${name}: for any request sequence, report-only outcome = strict outcome`, async () => {
      const refused = new Set<string>();
      await fc.assert(
        fc.asyncProperty(requestSpec, async (spec) => {
          const { strict, report } = pairs[name]!;
          const strictToken = await tokenFor(spec.stamp, strict.base, spec.path);
          const reportToken = await tokenFor(spec.stamp, report.base, spec.path);
          for (let i = 0; i < spec.sends; i++) {
            const expected = strictOutcome(await strict.send(spec.path, strictToken));
            expect(reportedOutcome(await report.send(spec.path, reportToken))).toBe(expected);
            refused.add(expected);
          }
        }),
        { numRuns: 60 },
      );
      // the runs reached refusals of several kinds, not only acceptances
      expect([...refused].filter((o) => o.startsWith('refused ')).length).toBeGreaterThanOrEqual(4);
    });
  }
});
