/**
 * The Durable Object side of `DurableObjectReplayStore`: one shard of the replay store, the
 * only place on Workers where an insert-if-absent is atomic across isolates and services.
 *
 * Storage is the key-value API (`state.storage`), which both storage backends offer (a class
 * declared with `new_sqlite_classes` or `new_classes`, and workerd's in-memory storage, which
 * has no SQL). Per key hash `k:<hash>` → expiry (ms); an index `x:<expiry>:<hash>` orders keys by
 * expiry for the alarm that reclaims them; `n` counts keys held. An expired key reads as absent
 * (expiry on read), so correctness never waits for the alarm; the alarm only frees the room.
 */

/** What the object needs of `state.storage` (the key-value API of a Durable Object). */
export interface ReplayObjectStorage {
  get(keys: string[]): Promise<Map<string, unknown>>;
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
  list(options: { prefix: string; start?: string; end?: string; limit: number }): Promise<Map<string, unknown>>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
}

export interface ReplayObjectState {
  readonly storage: ReplayObjectStorage;
}

/** The path and answers of the store ↔ object exchange (both ends are this package: no version skew within a deploy). */
export const REPLAY_OBJECT_URL = 'https://ipstamp-replay.invalid/insert';
export const REPLAY_OBJECT_FULL = 507;

const KEY_HASH = /^[0-9a-f]{64}$/;
/** The most expired keys reclaimed per storage call (the key-value API deletes at most 128 keys at once). */
const SWEEP_BATCH = 64;
/** Expiries are written with 16 digits, so the index sorts by time as text (ms up to year 318857). */
const EXPIRY_DIGITS = 16;
const MAX_EXPIRY = 10 ** EXPIRY_DIGITS - 1;

const entryKey = (hash: string): string => `k:${hash}`;
const indexKey = (expiry: number, hash: string): string => `x:${String(expiry).padStart(EXPIRY_DIGITS, '0')}:${hash}`;
const COUNT = 'n';

type InsertAnswer = 'inserted' | 'present' | 'full';

/**
 * Export it from your Worker under the class name your wrangler config binds (`new_sqlite_classes`
 * or `new_classes`): `export { IpStampReplayObject } from 'ipstamp/cloudflare'`. To hold more or
 * fewer keys per shard, subclass it: `class Replay extends IpStampReplayObject { static override maxEntries = 50_000 }`.
 */
export class IpStampReplayObject {
  /**
   * Most keys one shard holds (default 100,000; the store spreads keys over its shards). When that
   * many are live, the shard refuses new keys (`store-unavailable`, "full") instead of forgetting one.
   */
  static maxEntries = 100_000;

  readonly #storage: ReplayObjectStorage;
  readonly #maxEntries: number;
  /**
   * Inserts and sweeps run one after another. The input gate already keeps other events out while
   * a storage read is pending; the queue makes the read-then-write atomic without relying on it
   * (an app that turns on `allowConcurrency` cannot break it).
   */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(state: ReplayObjectState, _env?: unknown) {
    const maxEntries = (this.constructor as typeof IpStampReplayObject).maxEntries;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new TypeError('IpStampReplayObject.maxEntries must be a positive integer');
    if (typeof state?.storage?.get !== 'function') throw new TypeError('IpStampReplayObject needs the Durable Object state (with storage)');
    this.#storage = state.storage;
    this.#maxEntries = maxEntries;
  }

  async fetch(request: Request): Promise<Response> {
    if (request.method !== 'POST' || new URL(request.url).pathname !== '/insert') return new Response(null, { status: 404 });
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return new Response(null, { status: 400 });
    }
    const { key, ttlMs } = (body ?? {}) as { key?: unknown; ttlMs?: unknown };
    if (typeof key !== 'string' || !KEY_HASH.test(key) || typeof ttlMs !== 'number' || !(ttlMs > 0) || ttlMs === Infinity) {
      return new Response(null, { status: 400 });
    }
    const answer = await this.#serially(() => this.#insert(key, ttlMs));
    if (answer === 'full') return new Response(null, { status: REPLAY_OBJECT_FULL });
    return Response.json({ inserted: answer === 'inserted' });
  }

  /** The storage alarm: reclaims expired keys, a batch at a time, and sets itself for the next expiry. */
  async alarm(): Promise<void> {
    await this.#serially(async () => {
      const now = Date.now();
      // a full batch means more may be due: go on at once (the alarm runs again), else at the next expiry
      if ((await this.#sweep(now)) === SWEEP_BATCH) return this.#storage.setAlarm(now);
      const next = await this.#storage.list({ prefix: 'x:', limit: 1 });
      const first = next.keys().next();
      if (!first.done) await this.#storage.setAlarm(Number(first.value.slice(2, 2 + EXPIRY_DIGITS)));
    });
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #insert(hash: string, ttlMs: number): Promise<InsertAnswer> {
    const now = Date.now();
    const expiry = Math.min(Math.ceil(now + ttlMs), MAX_EXPIRY);
    const held = await this.#storage.get([entryKey(hash), COUNT]);
    const previous = held.get(entryKey(hash)) as number | undefined;
    if (previous !== undefined && previous > now) return 'present';
    let count = (held.get(COUNT) as number | undefined) ?? 0;
    if (previous === undefined && count >= this.#maxEntries) {
      // the alarm may lag behind: reclaim what has expired before saying "full"
      await this.#sweep(now);
      count = ((await this.#storage.get([COUNT])).get(COUNT) as number | undefined) ?? 0;
      if (count >= this.#maxEntries) return 'full';
    }
    const writes: Record<string, unknown> = { [entryKey(hash)]: expiry, [indexKey(expiry, hash)]: 1 };
    if (previous === undefined) writes[COUNT] = count + 1;
    else await this.#storage.delete([indexKey(previous, hash)]);
    await this.#storage.put(writes);
    const alarm = await this.#storage.getAlarm();
    if (alarm === null || alarm > expiry) await this.#storage.setAlarm(expiry);
    return 'inserted';
  }

  /** Deletes up to one batch of keys expired by `now`; returns how many index entries it took. */
  async #sweep(now: number): Promise<number> {
    const due = await this.#storage.list({ prefix: 'x:', end: indexKey(now + 1, ''), limit: SWEEP_BATCH });
    if (due.size === 0) return 0;
    const hashes = [...due.keys()].map((index) => index.slice(3 + EXPIRY_DIGITS));
    const held = await this.#storage.get([COUNT, ...hashes.map(entryKey)]);
    const gone: string[] = [...due.keys()];
    for (const hash of hashes) {
      const expiry = held.get(entryKey(hash)) as number | undefined;
      // a key re-inserted after it expired has a later expiry (and index entry) now: keep it
      if (expiry !== undefined && expiry <= now) gone.push(entryKey(hash));
    }
    const removed = gone.length - due.size;
    await this.#storage.delete(gone);
    if (removed > 0) await this.#storage.put({ [COUNT]: Math.max(0, ((held.get(COUNT) as number | undefined) ?? 0) - removed) });
    return due.size;
  }
}
