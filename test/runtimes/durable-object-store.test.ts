import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableObjectReplayStore, type ReplayNamespace } from '../../server/cloudflare/durable-object-store.js';
import { freePorts } from '../support/ports.js';
import { bundleFixture, requireRuntime, startWorkerd, type RunningRuntime } from '../support/runtimes.js';
import { describeReplayStoreContract } from '../stores/replay-store-contract.js';

/**
 * The Durable Object replay store in real workerd (in-memory Durable Object storage): the
 * store contract against real objects, and the race the store exists for — many copies of one
 * key through two Worker services bound to ONE namespace, exactly one inserted. (A Map in one
 * isolate passes a race inside one service; it cannot pass this one.) Needs `npm run build`.
 */
const workerd = requireRuntime('workerd');
const FIXTURE = resolve(import.meta.dirname, 'fixtures/replay-worker.ts');

let runtime: RunningRuntime | undefined;
let defines = '';
let binds = '';

beforeAll(async () => {
  if (!workerd) return;
  const code = await bundleFixture(FIXTURE, 'workerd');
  const [a, b] = await freePorts(2);
  defines = `http://127.0.0.1:${a}`;
  binds = `http://127.0.0.1:${b}`;
  runtime = await startWorkerd(workerd, [
    { name: 'defines', code, port: a!, durableObjects: [{ className: 'IpStampReplayObject', binding: 'REPLAY' }] },
    { name: 'binds', code, port: b!, foreignDurableObjects: [{ binding: 'REPLAY', className: 'IpStampReplayObject', serviceName: 'defines' }] },
  ]);
});
afterAll(async () => {
  await runtime?.stop();
});

/** A namespace whose objects are the real ones in workerd, reached through the Worker's /object route. */
function workerdNamespace(): ReplayNamespace {
  return {
    idFromName: (name) => name,
    get: (id: never) => ({
      fetch: (_url, init) => fetch(`${defines}/object/${encodeURIComponent(id as unknown as string)}`, init),
    }),
  };
}

describe.skipIf(!workerd)('DurableObjectReplayStore in workerd', () => {
  let storeNumber = 0;
  describeReplayStoreContract(
    'DurableObjectReplayStore (workerd objects)',
    () => new DurableObjectReplayStore({ namespace: workerdNamespace(), shards: 4, name: `contract-${Date.now()}-${storeNumber++}` }),
    {
      // expiry is exact to the millisecond, read on the object's clock
      expirySlackMs: 100,
    },
  );

  const race = async (route: string, key: string) =>
    Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const response = await fetch(`${i % 2 === 0 ? defines : binds}/${route}?key=${encodeURIComponent(key)}&ttl=60000`);
        return (await response.json()) as { inserted?: boolean; error?: string };
      }),
    );

  it('lets exactly one of 100 concurrent inserts of a key through, across two services bound to one namespace', async () => {
    for (let round = 0; round < 3; round++) {
      const answers = await race('insert', `race-${Date.now()}-${round}`);
      expect(
        answers.filter((a) => a.error !== undefined),
        runtime?.output(),
      ).toEqual([]);
      expect(answers.filter((a) => a.inserted === true)).toHaveLength(1);
    }
  });

  it('(control) a Set in the isolate lets one through per service: the race above can fail', async () => {
    const answers = await race('insert-local', `local-${Date.now()}`);
    expect(answers.filter((a) => a.inserted === true)).toHaveLength(2);
  });

  it('both services see the keys the other inserted', async () => {
    const key = `shared-${Date.now()}`;
    expect(await (await fetch(`${binds}/insert?key=${key}&ttl=60000`)).json()).toEqual({ inserted: true });
    expect(await (await fetch(`${defines}/insert?key=${key}&ttl=60000`)).json()).toEqual({ inserted: false });
  });
});
