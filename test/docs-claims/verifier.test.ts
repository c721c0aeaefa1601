import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStamper } from '../../client/index.js';
import { createVerifier, type ReplayStore, type Verdict } from '../../server/index.js';
import { ipstamp as honoIpstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as nodeIpstamp, trackPeerAddresses } from '../../server/node/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * docs/verifier.md: a loosened policy is logged only by the Fastify plugin and `ipstamp serve`;
 * the node and Hono middleware have no logger, so what an app has to go on is
 * `.verifier.settings` (the policies in force) and the verdict's `replayChecked` (false on a
 * stamp `onStoreError: 'accept'` let through unchecked).
 */
let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('HS256', 'docs-loosened');
});
afterEach(() => {
  vi.restoreAllMocks();
});

const downStore: ReplayStore = {
  insertIfAbsent: () => Promise.reject(new Error('replay store down')),
};
const loosened = { onStoreError: 'accept', onMismatch: 'flag', onUnverifiable: 'accept' } as const;

/** Everything written to the console, and every process warning emitted, while `run` runs. */
async function outputDuring(run: () => Promise<void>): Promise<{ console: unknown[][]; warnings: unknown[][] }> {
  const said: unknown[][] = [];
  const warnings: unknown[][] = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void said.push(args));
  }
  vi.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => void warnings.push(args));
  try {
    await run();
  } finally {
    vi.restoreAllMocks();
  }
  return { console: said, warnings };
}

/** The one warning a middleware with `loosened` emits at setup. */
const LOOSENED_WARNING = [
  'ipstamp: LOOSENED policies: onMismatch is \'flag\': a stamp whose ip the network contradicts is ACCEPTED (agreement "mismatch"); ' +
    'onUnverifiable is \'accept\': a stamp the network cannot confirm is ACCEPTED (agreement "unverifiable"): any claimed ip passes when no hint decides; ' +
    "onStoreError is 'accept': when the replay store fails, stamps are accepted WITHOUT a replay check (replays possible)",
  { code: 'IPSTAMP_LOOSENED_POLICIES' },
];

describe('docs/verifier.md: loosened policies outside the Fastify plugin are said once, as a process warning', () => {
  it('ipstamp/node: one process warning at setup names each policy; a stamp let through unchecked has replayChecked false; nothing is logged per stamp', async () => {
    const seen: Verdict[] = [];
    const said = await outputDuring(async () => {
      const middleware = nodeIpstamp({ keys: { keys: [key.publicJwk] }, replayStore: downStore, ...loosened });
      expect(middleware.verifier.settings).toMatchObject(loosened);
      const server: Server = trackPeerAddresses(
        createServer((req, res) =>
          middleware(req, res, () => {
            seen.push(req.ipStamp!);
            res.end('ok');
          }),
        ),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
      const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
      for (let i = 0; i < 2; i++)
        expect((await fetch(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } })).status).toBe(200);
      await new Promise((resolve) => server.close(resolve));
    });
    expect(seen.map((v) => [v.agreement, v.replayChecked])).toEqual([
      ['match', false],
      ['match', false],
    ]);
    expect(said).toEqual({ console: [], warnings: [LOOSENED_WARNING] });
  });

  it('ipstamp/hono: the same', async () => {
    const seen: Verdict[] = [];
    const said = await outputDuring(async () => {
      const stamp = honoIpstamp({ keys: { keys: [key.publicJwk] }, replayStore: downStore, connection: () => ({ l3: '127.0.0.1' }), ...loosened });
      expect(stamp.verifier.settings).toMatchObject(loosened);
      const app = new Hono<{ Variables: IpStampVariables }>();
      app.use(stamp);
      app.get('/orders', (c) => {
        seen.push(c.get('ipStamp')!);
        return c.text('ok');
      });
      const url = 'http://app.test/orders';
      const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
      for (let i = 0; i < 2; i++)
        expect((await app.request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } })).status).toBe(200);
    });
    expect(seen.map((v) => [v.agreement, v.replayChecked])).toEqual([
      ['match', false],
      ['match', false],
    ]);
    expect(said).toEqual({ console: [], warnings: [LOOSENED_WARNING] });
  });
});

describe('strict policies are not warned of', () => {
  it('ipstamp/node and ipstamp/hono with the defaults emit no warning and write nothing', async () => {
    const said = await outputDuring(async () => {
      nodeIpstamp({ keys: { keys: [key.publicJwk] } });
      honoIpstamp({ keys: { keys: [key.publicJwk] }, connection: () => ({ l3: '127.0.0.1' }) });
    });
    expect(said).toEqual({ console: [], warnings: [] });
  });
});

describe('docs/verifier.md: a key function is asked on every stamp past steps 2–3, and an undefined is not remembered', () => {
  it('asked once per well-formed stamp, unknown kid included; never for a malformed one; a key it later knows is used at once', async () => {
    let known = false;
    let asked = 0;
    const verifier = createVerifier({
      keys: (kid) => {
        asked++;
        return known && kid === key.publicJwk.kid ? key.publicJwk : undefined;
      },
    });
    const url = 'http://app.test/orders';
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
    const verify = async (token: string) => {
      const result = await verifier.verify({
        method: 'GET',
        url: '/orders',
        headers: { host: 'app.test', 'client-ip-attestation': token },
        hints: { l3: '127.0.0.1' },
      });
      return result.ok ? 'accepted' : result.reason;
    };
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await verify(await stamper.stamp({ method: 'GET', url })));
    outcomes.push(await verify('not-a-stamp'));
    known = true;
    outcomes.push(await verify(await stamper.stamp({ method: 'GET', url })));
    expect(outcomes).toEqual(['unknown-key', 'unknown-key', 'unknown-key', 'malformed', 'accepted']);
    expect(asked).toBe(4);
  });
});
