import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { peerAddressOf, trackPeerAddresses } from '../../server/hints/peer-address.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { createVerifier } from '../../server/verify/create-verifier.js';
import { rateLimitKey } from '../../server/verify/rate-limit-key.js';
import type { VerifyResult } from '../../server/verify/types.js';
import { problemOf, PROBLEM_CONTENT_TYPE } from '../../shared/problem.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * The real express-rate-limit (v8) keyed by rateLimitKey, on a real Express 5 server on
 * loopback. The verifier trusts loopback and reads X-Forwarded-For, so a test client plays
 * any client address — IPv6 /64s included — in the header its trusted proxy would write.
 * ipstamp/node is not here yet: a tiny middleware of the test calls the core and keeps the
 * result in `res.locals.ipStamp`.
 */
let key: TestKeyPair;
const servers: { close(): void }[] = [];
beforeAll(async () => {
  key = await makeKey('EdDSA', 'client-ed');
});
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

type Order = 'limit-then-verify' | 'verify-then-limit';
async function start(order: Order, verifierOptions: { onMismatch?: 'flag' } = {}) {
  const verifier = createVerifier({
    keys: { keys: [key.publicJwk] },
    replayStore: new MemoryReplayStore(),
    trustedProxies: 'loopback',
    forwardedHeader: 'x-forwarded-for',
    origins: ['http://api.example'],
    ...verifierOptions,
  });
  const logged: string[] = [];
  const app = express();
  const hintsOf = (req: Request) => verifier.hints({ headers: req.headers, hints: { l3: peerAddressOf(req.socket) } });
  const verify = async (req: Request, res: Response, next: NextFunction) => {
    const result: VerifyResult = await verifier.verify({
      method: req.method,
      url: req.originalUrl,
      headers: req.headers,
      hints: { l3: peerAddressOf(req.socket) },
      required: false,
    });
    if (!result.ok) {
      res
        .status(result.status)
        .type(PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problemOf(result.reason)));
      return;
    }
    res.locals.ipStamp = result;
    next();
  };
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: 2,
    // the key is ipstamp's address walk, not Express's req.ip: ipv6Subnet (default /56) does not
    // apply to a custom keyGenerator — the prefix is rateLimitKey's, written out here
    keyGenerator: (req, res) => rateLimitKey((res.locals.ipStamp as VerifyResult | undefined) ?? hintsOf(req), { ipv6Prefix: 64 }),
    // its setup checks (a keyGenerator reading req.ip, ipv6Subnet beside a keyGenerator) report here;
    // its request checks (trust proxy, X-Forwarded-For) belong to its default keyGenerator alone
    logger: { warn: (...args: unknown[]) => logged.push(String(args[0])), error: (...args: unknown[]) => logged.push(String(args[0])) },
  });
  if (order === 'limit-then-verify') app.use(limiter, verify);
  else app.use(verify, limiter);
  app.get('/orders', (_req, res) => {
    res.json({ ok: true });
  });
  const server = trackPeerAddresses(app.listen(0, '127.0.0.1'));
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const get = async (client: string, claim?: string) => {
    const headers: Record<string, string> = { host: 'api.example', 'x-forwarded-for': client };
    if (claim !== undefined)
      headers['client-ip-attestation'] = await createStamper({ key: key.privateJwk, ip: claim }).stamp({ method: 'GET', url: 'http://api.example/orders' });
    return (await fetch(`http://127.0.0.1:${port}/orders`, { headers })).status;
  };
  return { get, logged };
}

describe('express-rate-limit keyed by rateLimitKey', () => {
  for (const order of ['limit-then-verify', 'verify-then-limit'] as const) {
    it(`${order}: two addresses in one /64 share a budget; another /64 has its own; no validation complaint`, async () => {
      const { get, logged } = await start(order);
      expect(await get('2001:db8:1:2::a', '2001:db8:1:2::a')).toBe(200);
      expect(await get('2001:db8:1:2::b')).toBe(200);
      expect(await get('2001:db8:1:2:ff::1', '2001:db8:1:2:ff::1')).toBe(429);
      // express-rate-limit's own default would group by /56: this /64 is a different budget here
      expect(await get('2001:db8:1:3::a')).toBe(200);
      expect(await get('198.51.100.7')).toBe(200);
      expect(logged).toEqual([]);
    });
  }

  it('verify-then-limit with onMismatch flag: rotating the claimed address does not buy a new budget', async () => {
    const { get } = await start('verify-then-limit', { onMismatch: 'flag' });
    const answers = [];
    for (const claim of ['203.0.113.1', '203.0.113.2', '2001:db8:7::1']) answers.push(await get('198.51.100.9', claim));
    expect(answers).toEqual([200, 200, 429]);
  });

  it('limit-then-verify counts refused stamps; verify-then-limit never sees them', async () => {
    const early = await start('limit-then-verify');
    const late = await start('verify-then-limit');
    const flood = async (get: typeof early.get) => {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await get('198.51.100.10', '198.51.100.11'));
      return answers;
    };
    expect(await flood(early.get)).toEqual([403, 403, 429]);
    expect(await flood(late.get)).toEqual([403, 403, 403]);
  });
});
