import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import fc from 'fast-check';
import { Hono, type Context } from 'hono';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStampKey } from '../../client/browser-key.js';
import { createStamper } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ipstamp, type IpStampMiddleware, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as webIpstamp, type IpStampWebMiddleware } from '../../server/hono/web.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

/**
 * `stamp.optional` on the Hono middlewares, ipstamp/node's twin: the same verifier and replay
 * store with a stamp optional, so `app.use(stamp.optional)` app-wide and `stamp` on the routes
 * that require one work with ONE store. A stamp one of the family accepted goes through the
 * others as accepted, not checked again (a second check would find its own `jti` and refuse it
 * as a replay). Counted at the store: each check of a stamp asks it once.
 */
const key = await makeKey('HS256', 'hono-optional-twin');
const PEER = '127.0.0.1';
const keys = { keys: [key.publicJwk] };

/** The shared replay store, counting the checks that reach it; `seen.size` is the stamps accepted. */
class CountingStore extends MapReplayStore {
  asked = 0;
  override insertIfAbsent(key: string, ttlMs: number): boolean {
    this.asked += 1;
    return super.insertIfAbsent(key, ttlMs);
  }
}

type App = Hono<{ Variables: IpStampVariables }>;
type Family = IpStampMiddleware | IpStampWebMiddleware;
interface FamilyOptions {
  required?: boolean;
  replayStore?: CountingStore;
  issuer?: { key: JWK; rateLimit?: number | false };
}

/** An app served as a user serves it: `send(path)` answers as a client would see it. */
interface Served {
  readonly origin: string;
  send(path: string, init?: { method?: string; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/** ipstamp/hono on @hono/node-server, the peer read from the socket; ipstamp/hono/web through `app.request`. */
const variants = [
  {
    name: 'ipstamp/hono on @hono/node-server',
    make: (options: FamilyOptions): Family => ipstamp({ keys, ...options }),
    async serve(app: App): Promise<Served> {
      const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
      trackPeerAddresses(server);
      await new Promise((done) => server.once('listening', done));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return { origin, send: (path, init) => fetch(`${origin}${path}`, init), close: () => new Promise((done) => server.close(() => done())) };
    },
  },
  {
    name: 'ipstamp/hono/web through app.request',
    make: (options: FamilyOptions): Family => {
      const { issuer: _edgeOnly, ...rest } = options;
      return webIpstamp({ keys, ...rest, connection: () => ({ l3: PEER }) });
    },
    serve: async (app: App): Promise<Served> => {
      const origin = 'http://app.test';
      return { origin, send: async (path, init) => app.request(`${origin}${path}`, init), close: async () => {} };
    },
  },
] as const;

const served: Served[] = [];
afterAll(() => Promise.all(served.map((s) => s.close())));

/** A status and what it carried: the refusal's reason, or the verdict's address (`null` for none). */
async function outcomeOf(response: Response): Promise<string> {
  const text = await response.text();
  if (response.status === 500) return `500 ${text}`;
  const body = JSON.parse(text) as { reason?: string; ip?: string } | null;
  return `${response.status} ${body === null ? 'null' : (body.reason ?? body.ip)}`;
}

const verdictOf = (c: Context<{ Variables: IpStampVariables }>) => c.json(c.get('ipStamp'));

describe.each(variants)('$name: stamp.optional', ({ make, serve: serveApp }) => {
  async function start(build: (app: App) => void): Promise<Served & { stamped(path: string): Promise<Record<string, string>> }> {
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    build(app);
    app.onError((error, c) => c.text(`${error.name}: ${error.message}`, 500));
    const running = await serveApp(app);
    served.push(running);
    const stamper = createStamper({ key: key.privateJwk, ip: PEER });
    return {
      ...running,
      stamped: async (path) => ({ 'client-ip-attestation': await stamper.stamp({ method: 'GET', url: `${running.origin}${path}` }) }),
    };
  }

  it('app-wide, with stamp on /login and one store: a good stamp is checked once and accepted, its replay refused; stampless is 401 missing on /login and null elsewhere', async () => {
    const store = new CountingStore();
    const handled: string[] = [];
    const stamp = make({ replayStore: store });
    const app = await start((app) => {
      app.use(stamp.optional);
      app.get('/login', stamp, (c) => {
        handled.push('/login');
        return verdictOf(c);
      });
      app.get('/orders', verdictOf);
    });
    const login = await app.stamped('/login');
    expect(await outcomeOf(await app.send('/login', { headers: login }))).toBe(`200 ${PEER}`);
    expect([store.asked, store.seen.size, handled.length]).toEqual([1, 1, 1]);
    const outcomes = [
      await outcomeOf(await app.send('/login', { headers: login })),
      await outcomeOf(await app.send('/login')),
      await outcomeOf(await app.send('/orders')),
      await outcomeOf(await app.send('/orders', { headers: await app.stamped('/orders') })),
    ];
    expect(outcomes).toEqual(['401 replay', '401 missing', '200 null', `200 ${PEER}`]);
    // the replay and the stamp on /orders were each checked once; nothing else reached the store
    expect([store.asked, store.seen.size, handled]).toEqual([3, 2, ['/login']]);
  });

  it('the reverse order, stamp app-wide and stamp.optional on a route: checked once, accepted; its replay and a stampless request refused', async () => {
    const store = new CountingStore();
    const stamp = make({ replayStore: store });
    const app = await start((app) => {
      app.use(stamp);
      app.get('/orders', stamp.optional, verdictOf);
    });
    const orders = await app.stamped('/orders');
    const outcomes = [
      await outcomeOf(await app.send('/orders', { headers: orders })),
      await outcomeOf(await app.send('/orders', { headers: orders })),
      await outcomeOf(await app.send('/orders')),
    ];
    expect(outcomes).toEqual([`200 ${PEER}`, '401 replay', '401 missing']);
    expect([store.asked, store.seen.size]).toEqual([2, 1]);
  });

  it('is the middleware itself when created with required: false, so the layered app keeps working when enforcement is rolled back', async () => {
    const store = new CountingStore();
    const stamp = make({ required: false, replayStore: store });
    expect(stamp.optional).toBe(stamp);
    const enforcing = make({});
    expect([enforcing.optional === enforcing, typeof enforcing.optional, typeof enforcing.optional.handler]).toEqual([false, 'function', 'function']);
    const app = await start((app) => {
      app.use(stamp.optional);
      app.get('/login', stamp, verdictOf);
    });
    const outcomes = [await outcomeOf(await app.send('/login', { headers: await app.stamped('/login') })), await outcomeOf(await app.send('/login'))];
    expect(outcomes).toEqual([`200 ${PEER}`, '200 null']);
    expect(store.asked).toBe(1);
  });

  it('lets through only a stamp it accepted: a verdict the app put in ipStamp after stamp.optional let a stampless request through is checked by stamp, 401 missing', async () => {
    const store = new CountingStore();
    const stamp = make({ replayStore: store });
    const app = await start((app) => {
      app.use(stamp.optional);
      // what a misguided development bypass would do
      app.use((c, next) => {
        c.set('ipStamp', c.get('ipStamp') ?? ({ ip: '203.0.113.9' } as IpStampVariables['ipStamp']));
        return next();
      });
      app.get('/login', stamp, verdictOf);
    });
    expect(await outcomeOf(await app.send('/login'))).toBe('401 missing');
    expect(await outcomeOf(await app.send('/login', { headers: await app.stamped('/login') }))).toBe(`200 ${PEER}`);
    expect(store.asked).toBe(1);
  });

  it('leaves the echo route to the middleware in front: answered once, with the address it observes', async () => {
    const stamp = make({});
    const app = await start((app) => {
      app.use(stamp.optional);
      app.get('/.well-known/ipstamp', stamp, (c) => c.text('the route ran'));
    });
    const echo = await app.send('/.well-known/ipstamp');
    expect([echo.status, echo.headers.get('cache-control'), ((await echo.json()) as { ip: string }).ip]).toEqual([200, 'no-store', PEER]);
  });

  it('has the handler form: stamp.handler behind stamp.optional checks once and lets a preflight through; stamp.optional.handler alone lets a stampless request through', async () => {
    const store = new CountingStore();
    const stamp = make({ replayStore: store });
    const app = await start((app) => {
      app.use('/api/*', stamp.optional);
      app.all('/api/login', stamp.handler(verdictOf));
      app.get('/open', stamp.optional.handler(verdictOf));
    });
    const login = await app.stamped('/api/login');
    const outcomes = [
      await outcomeOf(await app.send('/api/login', { headers: login })),
      await outcomeOf(await app.send('/api/login', { headers: login })),
      await outcomeOf(await app.send('/api/login')),
      // a CORS preflight passes both, unverified
      await outcomeOf(await app.send('/api/login', { method: 'OPTIONS', headers: { origin: 'http://page.test', 'access-control-request-method': 'POST' } })),
      await outcomeOf(await app.send('/open')),
      await outcomeOf(await app.send('/open', { headers: await app.stamped('/open') })),
    ];
    expect(outcomes).toEqual([`200 ${PEER}`, '401 replay', '401 missing', '200 null', '200 null', `200 ${PEER}`]);
    expect([store.asked, store.seen.size]).toEqual([3, 2]);
  });

  it("behind another ipstamp() call's middleware sharing the store, the twin still throws the TypeError naming the mistake", async () => {
    const store = new CountingStore();
    const app = await start((app) => {
      app.use(make({ replayStore: store }).optional);
      app.get('/login', make({ replayStore: store }), verdictOf);
    });
    const outcome = await outcomeOf(await app.send('/login', { headers: await app.stamped('/login') }));
    expect(outcome).toMatch(/^500 TypeError: ipstamp: a second ipstamp middleware on a request whose stamp the first accepted/);
    expect(store.asked).toBe(1);
  });
});

describe('ipstamp/hono: the twins share the ticket routes', () => {
  let issuerKey: JWK;
  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
  });

  it('the ticket and issuer JWK Set routes answer through either twin, with one rate limit between them', async () => {
    const stamp = ipstamp({ keys, issuer: { key: issuerKey, rateLimit: 1 } });
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    // each request through one twin, chosen by the test
    app.use((c, next) => (c.req.header('x-twin') === 'optional' ? stamp.optional(c, next) : stamp(c, next)));
    app.get('/login', stamp, verdictOf);
    const running = await variants[0].serve(app);
    served.push(running);
    const ticketUrl = `${running.origin}/.well-known/ipstamp/ticket`;
    const client = await generateStampKey({ alg: 'ES256' });
    const ask = async (twin: string) =>
      running.send('/.well-known/ipstamp/ticket', {
        method: 'POST',
        headers: { 'x-twin': twin, 'client-ip-attestation': await createTicketRequestProof(client, ticketUrl) },
      });
    const first = await ask('optional');
    expect([first.status, ((await first.json()) as { ip: string }).ip]).toEqual([200, PEER]);
    const second = await ask('required');
    expect([second.status, ((await second.json()) as { reason: string }).reason]).toEqual([429, 'rate-limited']);
    const jwks = await running.send('/.well-known/ipstamp/issuer-jwks', { headers: { 'x-twin': 'optional' } });
    expect([jwks.status, ((await jwks.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)]).toEqual([200, ['edge-1']]);
  });
});

describe('ipstamp/hono/web: any arrangement of one family on a request checks a stamp once', () => {
  type Member = 'stamp' | 'stamp.optional';
  type Route = 'plain' | 'stamp.handler' | 'stamp.optional.handler';

  it('a good stamp is accepted with one check and its replay refused; a stampless request is 401 missing iff a required member is on its way', async () => {
    const stamper = createStamper({ key: key.privateJwk, ip: PEER });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Member>('stamp', 'stamp.optional'), { maxLength: 3 }),
        fc.constantFrom<Route>('plain', 'stamp.handler', 'stamp.optional.handler'),
        async (members, route) => {
          fc.pre(members.length > 0 || route !== 'plain');
          const store = new CountingStore();
          const stamp = webIpstamp({ keys, replayStore: store, connection: () => ({ l3: PEER }) });
          const app: App = new Hono<{ Variables: IpStampVariables }>();
          for (const member of members) app.use(member === 'stamp' ? stamp : stamp.optional);
          app.get('/orders', route === 'plain' ? verdictOf : route === 'stamp.handler' ? stamp.handler(verdictOf) : stamp.optional.handler(verdictOf));
          app.onError((error, c) => c.text(`${error.name}: ${error.message}`, 500));
          const url = 'http://app.test/orders';
          const headers = { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) };
          const required = members.includes('stamp') || route === 'stamp.handler';
          const outcomes = [
            await outcomeOf(await app.request(url, { headers })),
            await outcomeOf(await app.request(url, { headers })),
            await outcomeOf(await app.request(url)),
          ];
          expect(outcomes).toEqual([`200 ${PEER}`, '401 replay', required ? '401 missing' : '200 null']);
          expect([store.asked, store.seen.size]).toEqual([2, 1]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
