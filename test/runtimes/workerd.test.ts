import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { requireBinary } from '../support/binaries.js';
import { startHaproxy, type RunningProxy } from '../support/haproxy.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePorts } from '../support/ports.js';
import { bundleFixture, bundleSource, requireRuntime, startWorkerd, type RunningRuntime } from '../support/runtimes.js';
import { request } from 'undici';
import { call, describeEdgeBehaviour, from } from './edge-behaviour.js';

/**
 * The edge app as a Cloudflare Worker in workerd, behind HAProxy playing Cloudflare's edge
 * (`http-request set-header CF-Connecting-IP %[src]`: the platform overwrites whatever the
 * client sent). Two Worker services run the same code, bound to ONE Durable Object namespace
 * of replay-store objects; each has its own HAProxy frontend.
 */
const workerd = requireRuntime('workerd');
const haproxyBinary = requireBinary('haproxy');
const runnable = workerd !== undefined && haproxyBinary !== undefined;

let worker: RunningRuntime | undefined;
let proxy: RunningProxy | undefined;
let key: TestKeyPair;
const origins = { a: '', b: '', directA: '', docs: '' };

/** The Worker of docs/workers.md, as the page shows it. */
const DOCS_WORKER = /<!-- workerd-example: worker -->\n```js\n([\s\S]*?)```/.exec(
  readFileSync(resolve(import.meta.dirname, '../../docs/workers.md'), 'utf8'),
)?.[1];

beforeAll(async () => {
  if (!runnable) return;
  key = await makeKey('ES256', 'workerd-es');
  const code = await bundleFixture(resolve(import.meta.dirname, 'fixtures/worker.ts'), 'workerd');
  if (DOCS_WORKER === undefined) throw new Error('docs/workers.md has no <!-- workerd-example: worker --> block');
  const docsCode = await bundleSource(DOCS_WORKER, 'workerd');
  const [workerA, workerB, edgeA, edgeB, docsWorker, docsEdge] = await freePorts(6);
  const text = { KEYS: JSON.stringify({ keys: [key.publicJwk] }) };
  worker = await startWorkerd(workerd, [
    { name: 'a', code, port: workerA!, text, durableObjects: [{ className: 'IpStampReplayObject', binding: 'REPLAY' }] },
    { name: 'b', code, port: workerB!, text, foreignDurableObjects: [{ binding: 'REPLAY', className: 'IpStampReplayObject', serviceName: 'a' }] },
    {
      name: 'docs',
      code: docsCode,
      port: docsWorker!,
      text: { IPSTAMP_KEYS: text.KEYS },
      durableObjects: [{ className: 'IpStampReplayObject', binding: 'IPSTAMP_REPLAY' }],
    },
  ]);
  const edge = (name: string, listen: number, target: number) => `
frontend edge_${name}
  bind 127.0.0.1:${listen}
  http-request set-header CF-Connecting-IP %[src]
  default_backend worker_${name}
backend worker_${name}
  server w 127.0.0.1:${target}
`;
  proxy = await startHaproxy(
    haproxyBinary!,
    `defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${edge('a', edgeA!, workerA!)}${edge('b', edgeB!, workerB!)}${edge('docs', docsEdge!, docsWorker!)}`,
    [edgeA!, edgeB!, docsEdge!],
  );
  origins.docs = `http://127.0.0.1:${docsEdge}`;
  origins.a = `http://127.0.0.1:${edgeA}`;
  origins.b = `http://127.0.0.1:${edgeB}`;
  origins.directA = `http://127.0.0.1:${workerA}`;
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await worker?.stop();
});

describe.skipIf(!runnable)('workerd behind HAProxy (the edge)', () => {
  const output = () => `${worker?.output() ?? ''}\n${proxy?.output() ?? ''}`;
  describeEdgeBehaviour('workerd', { origin: () => origins.a, key: () => key, output });

  it("a client's own CF-Connecting-IP, sent around the edge, does not count: its stamp for its real address matches", async () => {
    const url = `${origins.a}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.2' }).stamp({ method: 'GET', url });
    const { status, body } = await call('127.0.0.2', url, { headers: { 'client-ip-attestation': token, 'cf-connecting-ip': '203.0.113.7' } });
    expect([status, body.ip, body.agreement]).toEqual([200, '127.0.0.2', 'match']);
  });

  it('(control) reached straight, without the edge, the Worker believes the header: why the platform must overwrite it', async () => {
    const { body } = await call('127.0.0.2', `${origins.directA}/.well-known/ipstamp`, { headers: { 'cf-connecting-ip': '203.0.113.7' } });
    expect(body).toEqual({ ip: '203.0.113.7', time: expect.any(Number) });
  });

  it('the Worker of docs/workers.md, as written, accepts a stamped request with match and refuses its replay', async () => {
    const url = `${origins.docs}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.2' }).stamp({ method: 'GET', url });
    const first = await call('127.0.0.2', url, { headers: { 'client-ip-attestation': token } });
    expect([first.status, first.body], output()).toEqual([200, { ip: '127.0.0.2', agreement: 'match' }]);
    const again = await call('127.0.0.2', url, { headers: { 'client-ip-attestation': token } });
    expect([again.status, again.body.reason]).toEqual([401, 'replay']);
  });

  for (const door of ['/orders', '/web/orders']) {
    it(`100 concurrent copies of one stamp through two Worker services on one Durable Object namespace: exactly one accepted (${door})`, async () => {
      const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.2' }).stamp({ method: 'GET', url: `${origins.a}${door}` });
      // the stamp names service a's origin (htu); service b is asked with the same Host, as a second edge location would be
      const host = new URL(origins.a).host;
      const answers = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          // undici's request, not fetch: fetch does not let a caller set Host
          const response = await request(`${i % 2 === 0 ? origins.a : origins.b}${door}`, {
            dispatcher: from('127.0.0.2'),
            headers: { 'client-ip-attestation': token, host },
          });
          return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
        }),
      );
      const tally = answers
        .map((a) => `${a.status} ${String(a.body.reason ?? a.body.agreement)}`)
        .reduce<Record<string, number>>((t, k) => ({ ...t, [k]: (t[k] ?? 0) + 1 }), {});
      expect(tally, output()).toEqual({ '200 match': 1, '401 replay': 99 });
    });
  }
});
