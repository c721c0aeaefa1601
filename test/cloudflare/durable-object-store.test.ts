import { afterEach, describe, expect, it, vi } from 'vitest';
import { IpStampError } from '../../shared/errors.js';
import { DurableObjectReplayStore, type ReplayNamespace } from '../../server/cloudflare/durable-object-store.js';
import { IpStampReplayObject, type ReplayObjectStorage } from '../../server/cloudflare/replay-object.js';
import { isReplayStoreFullError } from '../../server/stores/replay-store.js';
import { describeReplayStoreContract } from '../stores/replay-store-contract.js';

/**
 * The Durable Object store in Node, over a Map standing in for `state.storage` (the same
 * key-value calls, each answered after a turn of the event loop, as real storage is). The same
 * store and object run in real workerd in test/runtimes/durable-object-store.test.ts.
 */
class MapStorage implements ReplayObjectStorage {
  readonly data = new Map<string, unknown>();
  alarmAt: number | null = null;
  calls = 0;
  #tick = async (): Promise<void> => {
    this.calls++;
    await new Promise((resolve) => setImmediate(resolve));
  };
  async get(keys: string[]): Promise<Map<string, unknown>> {
    await this.#tick();
    return new Map(keys.filter((k) => this.data.has(k)).map((k) => [k, this.data.get(k)]));
  }
  async put(entries: Record<string, unknown>): Promise<void> {
    await this.#tick();
    for (const [k, v] of Object.entries(entries)) this.data.set(k, v);
  }
  async delete(keys: string[]): Promise<number> {
    await this.#tick();
    if (keys.length > 128) throw new Error('the key-value API deletes at most 128 keys at once');
    return keys.filter((k) => this.data.delete(k)).length;
  }
  async list(options: { prefix: string; start?: string; end?: string; limit: number }): Promise<Map<string, unknown>> {
    await this.#tick();
    const keys = [...this.data.keys()]
      .filter((k) => k.startsWith(options.prefix) && (options.start === undefined || k >= options.start) && (options.end === undefined || k < options.end))
      .sort()
      .slice(0, options.limit);
    return new Map(keys.map((k) => [k, this.data.get(k)]));
  }
  async getAlarm(): Promise<number | null> {
    await this.#tick();
    return this.alarmAt;
  }
  async setAlarm(at: number): Promise<void> {
    await this.#tick();
    this.alarmAt = at;
  }
}

/** A namespace of objects in this process: one object (and storage) per name, as Cloudflare routes them. */
function mapNamespace(Class: typeof IpStampReplayObject = IpStampReplayObject) {
  const objects = new Map<string, { object: IpStampReplayObject; storage: MapStorage }>();
  const namespace: ReplayNamespace = {
    idFromName: (name) => name,
    get: (id: never) => {
      const name = id as unknown as string;
      if (!objects.has(name)) {
        const storage = new MapStorage();
        objects.set(name, { object: new Class({ storage }), storage });
      }
      const { object } = objects.get(name)!;
      return { fetch: (url, init) => object.fetch(new Request(url, init)) };
    },
  };
  return { namespace, objects };
}

let storeNumber = 0;
describeReplayStoreContract(
  'DurableObjectReplayStore (Map storage)',
  () => new DurableObjectReplayStore({ namespace: mapNamespace().namespace, shards: 4, name: `contract-${storeNumber++}` }),
);

const refusal = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('DurableObjectReplayStore fails closed', () => {
  const broken = (fetch: () => Promise<Response>): ReplayNamespace => ({ idFromName: (name) => name, get: () => ({ fetch }) });

  it.each([
    ['an object that throws', () => Promise.reject(new Error('Durable Object overloaded'))],
    ['a 500', () => Promise.resolve(new Response('boom', { status: 500 }))],
    ['a 200 that is not its reply', () => Promise.resolve(Response.json({ inserted: 'yes' }))],
    ['a 200 that is not JSON', () => Promise.resolve(new Response('<html>', { status: 200 }))],
    ['an error status whose body looks like its reply', () => Promise.resolve(Response.json({ inserted: true }, { status: 500 }))],
  ])('%s → store-unavailable', async (_, fetch) => {
    const store = new DurableObjectReplayStore({ namespace: broken(fetch) });
    const error = await refusal(store.insertIfAbsent('kid jti', 60_000));
    expect(error).toBeInstanceOf(IpStampError);
    expect((error as IpStampError).reason).toBe('store-unavailable');
    expect(isReplayStoreFullError(error)).toBe(false);
  });

  it('an object that never answers → store-unavailable after timeoutMs', async () => {
    const store = new DurableObjectReplayStore({ namespace: broken(() => new Promise<Response>(() => {})), timeoutMs: 50 });
    const error = await refusal(store.insertIfAbsent('kid jti', 60_000));
    expect((error as IpStampError).reason).toBe('store-unavailable');
  });

  it('leaves no timer behind once an insert is answered, refused or failed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const store = new DurableObjectReplayStore({ namespace: mapNamespace().namespace });
      expect(await store.insertIfAbsent('kid jti', 60_000)).toBe(true);
      expect(await store.insertIfAbsent('kid jti', 60_000)).toBe(false);
      const failing = new DurableObjectReplayStore({ namespace: broken(() => Promise.reject(new Error('overloaded'))) });
      expect(((await refusal(failing.insertIfAbsent('kid jti', 60_000))) as IpStampError).reason).toBe('store-unavailable');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a full shard → ReplayStoreFullError (refused whatever onStoreError says)', async () => {
    const store = new DurableObjectReplayStore({ namespace: broken(() => Promise.resolve(new Response(null, { status: 507 }))) });
    const error = await refusal(store.insertIfAbsent('kid jti', 60_000));
    expect(isReplayStoreFullError(error)).toBe(true);
    expect((error as IpStampError).reason).toBe('store-unavailable');
  });

  it('names the wrong option with a TypeError at setup', () => {
    const { namespace } = mapNamespace();
    const make = (options: unknown) => () => new DurableObjectReplayStore(options as never);
    expect(make(undefined)).toThrow(new TypeError('options must be an object'));
    expect(make({})).toThrow(/^namespace must be/);
    expect(make({ namespace: {} })).toThrow(/^namespace must be/);
    expect(make({ namespace, shards: 0 })).toThrow(/^shards must be/);
    expect(make({ namespace, shards: 1.5 })).toThrow(/^shards must be/);
    expect(make({ namespace, shards: 1025 })).toThrow(/^shards must be/);
    expect(make({ namespace, name: '' })).toThrow(/^name must be/);
    expect(make({ namespace, name: 'n'.repeat(201) })).toThrow(/^name must be/);
    // the bounds themselves are allowed
    expect(new DurableObjectReplayStore({ namespace, shards: 1024, name: 'n'.repeat(200), timeoutMs: 1 }).shards).toBe(1024);
    expect(make({ namespace, timeoutMs: 0 })).toThrow(/^timeoutMs must be/);
    expect(make({ namespace, shard: 4 })).toThrow(new TypeError('unknown option "shard" (did you mean "shards"?)'));
  });
});

describe('DurableObjectReplayStore sharding', () => {
  it('spreads keys over every shard, and two stores on one namespace agree on where a key lives', async () => {
    const { namespace, objects } = mapNamespace();
    const a = new DurableObjectReplayStore({ namespace, shards: 8 });
    const b = new DurableObjectReplayStore({ namespace, shards: 8 });
    for (let i = 0; i < 200; i++) expect(await a.insertIfAbsent(`kid jti-${i}`, 60_000)).toBe(true);
    expect([...objects.keys()].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `ipstamp-replay:${i}`).sort());
    for (let i = 0; i < 200; i++) expect(await b.insertIfAbsent(`kid jti-${i}`, 60_000)).toBe(false);
  });

  it('keeps keys of stores with different names apart on one namespace', async () => {
    const { namespace } = mapNamespace();
    const one = new DurableObjectReplayStore({ namespace, name: 'app-one' });
    const two = new DurableObjectReplayStore({ namespace, name: 'app-two' });
    expect(await one.insertIfAbsent('k', 60_000)).toBe(true);
    expect(await two.insertIfAbsent('k', 60_000)).toBe(true);
  });
});

describe('IpStampReplayObject', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  class SmallObject extends IpStampReplayObject {
    static override maxEntries = 3;
  }

  const insert = async (object: IpStampReplayObject, key: string, ttlMs: number) =>
    object.fetch(new Request('https://ipstamp-replay.invalid/insert', { method: 'POST', body: JSON.stringify({ key, ttlMs }) }));
  const hash = (n: number): string => n.toString(16).padStart(64, '0');

  it('refuses a new key when full, keeps every live one, and takes keys again once some expire', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
    const storage = new MapStorage();
    const object = new SmallObject({ storage });
    for (let i = 0; i < 3; i++) expect(await (await insert(object, hash(i), 10_000)).json()).toEqual({ inserted: true });
    expect((await insert(object, hash(3), 10_000)).status).toBe(507);
    for (let i = 0; i < 3; i++) expect(await (await insert(object, hash(i), 10_000)).json()).toEqual({ inserted: false });
    vi.setSystemTime(1_800_000_000_000 + 9_999);
    expect((await insert(object, hash(3), 10_000)).status).toBe(507);
    vi.setSystemTime(1_800_000_000_000 + 10_000);
    // the alarm has not run: the full object reclaims what expired before refusing
    expect(await (await insert(object, hash(3), 10_000)).json()).toEqual({ inserted: true });
    expect(await (await insert(object, hash(3), 10_000)).json()).toEqual({ inserted: false });
  });

  it('its alarm reclaims expired keys (bounded storage) and is set for the next expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
    const storage = new MapStorage();
    const object = new IpStampReplayObject({ storage });
    for (let i = 0; i < 100; i++) await insert(object, hash(i), 1_000);
    await insert(object, hash(1000), 60_000);
    expect(storage.alarmAt).toBe(1_800_000_000_000 + 1_000);
    expect(storage.data.size).toBe(2 * 101 + 1);
    vi.setSystemTime(1_800_000_001_000);
    await object.alarm(); // a batch: there is more, it runs again at once
    expect(storage.alarmAt).toBe(1_800_000_001_000);
    await object.alarm();
    expect(storage.alarmAt).toBe(1_800_000_000_000 + 60_000);
    expect(storage.data.size).toBe(2 * 1 + 1);
    expect(storage.data.get('n')).toBe(1);
    expect(await (await insert(object, hash(1000), 60_000)).json()).toEqual({ inserted: false });
    expect(await (await insert(object, hash(7), 60_000)).json()).toEqual({ inserted: true });
  });

  it('keeps a key re-inserted after it expired when the alarm sweeps its old expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
    const storage = new MapStorage();
    const object = new IpStampReplayObject({ storage });
    await insert(object, hash(1), 1_000);
    vi.setSystemTime(1_800_000_002_000);
    expect(await (await insert(object, hash(1), 60_000)).json()).toEqual({ inserted: true });
    // its old index entry went with it: one entry, one index entry and the count
    expect(storage.data.size).toBe(3);
    await object.alarm();
    expect(await (await insert(object, hash(1), 60_000)).json()).toEqual({ inserted: false });
    expect(storage.data.get('n')).toBe(1);
  });

  it('holds a key for its whole ttl, a fraction of a millisecond included, and frees it at its expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
    const object = new IpStampReplayObject({ storage: new MapStorage() });
    await insert(object, hash(1), 10_000);
    await insert(object, hash(2), 10_000.5);
    vi.setSystemTime(1_800_000_000_000 + 9_999);
    expect(await (await insert(object, hash(1), 10_000)).json()).toEqual({ inserted: false });
    vi.setSystemTime(1_800_000_000_000 + 10_000);
    expect(await (await insert(object, hash(1), 10_000)).json()).toEqual({ inserted: true });
    expect(await (await insert(object, hash(2), 10_000)).json()).toEqual({ inserted: false });
  });

  it('a key re-inserted after it expired into a full object takes its old place: the object still holds at most maxEntries', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
    const object = new SmallObject({ storage: new MapStorage() });
    for (let i = 0; i < 3; i++) await insert(object, hash(i), 1_000);
    vi.setSystemTime(1_800_000_000_000 + 1_000);
    expect(await (await insert(object, hash(0), 60_000)).json()).toEqual({ inserted: true });
    const answers = [];
    for (let i = 10; i < 14; i++) answers.push((await insert(object, hash(i), 60_000)).status);
    // hash(0) and two new keys are live: the third new one finds the object full
    expect(answers).toEqual([200, 200, 507, 507]);
  });

  it('sets its alarm for the earliest expiry, whatever order the keys came in', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
    const storage = new MapStorage();
    const object = new IpStampReplayObject({ storage });
    await insert(object, hash(1), 60_000);
    expect(storage.alarmAt).toBe(1_800_000_000_000 + 60_000);
    await insert(object, hash(2), 1_000);
    expect(storage.alarmAt).toBe(1_800_000_000_000 + 1_000);
    await insert(object, hash(3), 30_000);
    expect(storage.alarmAt).toBe(1_800_000_000_000 + 1_000);
  });

  it('an alarm that reclaims the last keys leaves none and sets itself for nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
    const storage = new MapStorage();
    const object = new IpStampReplayObject({ storage });
    await insert(object, hash(1), 1_000);
    vi.setSystemTime(1_800_000_000_000 + 1_000);
    await object.alarm();
    expect([...storage.data]).toEqual([['n', 0]]);
    expect(storage.alarmAt).toBe(1_800_000_000_000 + 1_000);
  });

  it('lets one of many concurrent inserts of a key through, though every storage call yields', async () => {
    const object = new IpStampReplayObject({ storage: new MapStorage() });
    const answers = await Promise.all(Array.from({ length: 50 }, async () => (await (await insert(object, hash(9), 60_000)).json()) as { inserted: boolean }));
    expect(answers.filter((a) => a.inserted)).toHaveLength(1);
  });

  it('answers 400 to anything but its own request, and 404 elsewhere', async () => {
    const object = new IpStampReplayObject({ storage: new MapStorage() });
    for (const body of [
      '{',
      '{}',
      JSON.stringify({ key: 'short', ttlMs: 1 }),
      JSON.stringify({ key: hash(1), ttlMs: 0 }),
      JSON.stringify({ key: hash(0xab).toUpperCase(), ttlMs: 1 }),
      `{"key":"${hash(1)}","ttlMs":1e309}`, // JSON can say Infinity
    ]) {
      expect((await object.fetch(new Request('https://x.invalid/insert', { method: 'POST', body }))).status).toBe(400);
    }
    expect((await object.fetch(new Request('https://x.invalid/other', { method: 'POST', body: '{}' }))).status).toBe(404);
    expect((await object.fetch(new Request('https://x.invalid/insert'))).status).toBe(404);
  });

  it('names a wrong maxEntries at construction', () => {
    class Wrong extends IpStampReplayObject {
      static override maxEntries = 0;
    }
    expect(() => new Wrong({ storage: new MapStorage() })).toThrow(/maxEntries must be a positive integer/);
  });
});
