import { IpStampError } from '../../shared/errors.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { assertInsertArguments, ReplayStoreFullError, type ReplayStore } from '../stores/replay-store.js';
import { REPLAY_OBJECT_FULL, REPLAY_OBJECT_URL } from './replay-object.js';

/** What the store needs of a Durable Object namespace binding (`env.IPSTAMP_REPLAY`). */
export interface ReplayNamespace {
  idFromName(name: string): unknown;
  get(id: never): { fetch(input: string, init: { method: string; body: string; headers: Record<string, string> }): Promise<Response> };
}

export interface DurableObjectReplayStoreOptions {
  /** The binding of the `IpStampReplayObject` class: every Worker that verifies binds the same namespace. */
  namespace: ReplayNamespace;
  /** Objects the keys are spread over (default 16). Every Worker sharing the namespace must use the same count and name. */
  shards?: number;
  /** Names the shard objects (`${name}:${i}`), so one namespace can serve separate stores. Default `ipstamp-replay`. */
  name?: string;
  /** How long an insert may take before the verifier fails closed (`store-unavailable`). Default 2000 ms. */
  timeoutMs?: number;
}

const MAX_SHARDS = 1024;
/** The longest delay setTimeout keeps (2^31 − 1 ms); Node and browsers run a longer one after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

const DURABLE_OBJECT_STORE_OPTION_NAMES: OptionNames<DurableObjectReplayStoreOptions> = Object.freeze({
  namespace: true,
  shards: true,
  name: true,
  timeoutMs: true,
});

/**
 * A `ReplayStore` for Workers, backed by `IpStampReplayObject` Durable Objects: one object per
 * shard does the atomic insert-if-absent with expiry, so stamps are single-use across every
 * isolate and every Worker bound to the namespace (a Map in one isolate is not).
 *
 * A key is reduced to a SHA-256 of its UTF-16 code units (so lone surrogates stay distinct, and
 * a 10 KB key is 64 hex characters in storage); its first four bytes pick the shard. The hash is
 * unkeyed on purpose: every isolate of every Worker must land a key on the same object. A
 * collision could only refuse a fresh stamp, never accept a replay.
 *
 * Every failure — an object that throws, is overloaded, answers anything but its own reply, or
 * takes longer than `timeoutMs` — is `store-unavailable`; a full shard is `ReplayStoreFullError`.
 */
export class DurableObjectReplayStore implements ReplayStore {
  readonly shards: number;
  readonly #namespace: ReplayNamespace;
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #ids: unknown[] = [];
  #closed = false;

  constructor(options: DurableObjectReplayStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    rejectUnknownOptions(options, DURABLE_OBJECT_STORE_OPTION_NAMES);
    const { namespace, shards = 16, name = 'ipstamp-replay', timeoutMs = 2000 } = options;
    if (typeof namespace?.idFromName !== 'function' || typeof namespace.get !== 'function') {
      throw new TypeError('namespace must be a Durable Object namespace binding (env.YOUR_BINDING)');
    }
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_SHARDS) throw new TypeError(`shards must be an integer from 1 to ${MAX_SHARDS}`);
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new TypeError('name must be a non-empty string of at most 200 characters');
    // setTimeout runs a longer delay after 1 ms: every check would be store-unavailable at once
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS) {
      throw new TypeError(`timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`);
    }
    this.shards = shards;
    this.#namespace = namespace;
    this.#name = name;
    this.#timeoutMs = timeoutMs;
  }

  insertIfAbsent(key: string, ttlMs: number): Promise<boolean> {
    assertInsertArguments(key, ttlMs);
    if (this.#closed) return Promise.reject(new IpStampError('store-unavailable'));
    return this.#insert(key, ttlMs);
  }

  /** Later inserts answer `store-unavailable` (the objects keep their keys: other Workers use them). */
  close(): void {
    this.#closed = true;
  }

  async #insert(key: string, ttlMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new IpStampError('store-unavailable')), this.#timeoutMs);
    });
    try {
      return await Promise.race([this.#ask(key, ttlMs), timeout]);
    } catch (error) {
      if (error instanceof IpStampError) throw error;
      throw new IpStampError('store-unavailable', { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async #ask(key: string, ttlMs: number): Promise<boolean> {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', utf16Bytes(key)));
    const shard = (((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0) % this.shards;
    const stub = this.#namespace.get(this.#idOf(shard) as never);
    const response = await stub.fetch(REPLAY_OBJECT_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: hex(digest), ttlMs }),
    });
    if (response.status === REPLAY_OBJECT_FULL) throw new ReplayStoreFullError();
    const answer: unknown = response.status === 200 ? await response.json() : undefined;
    const inserted = (answer as { inserted?: unknown } | undefined)?.inserted;
    if (typeof inserted !== 'boolean') throw new IpStampError('store-unavailable');
    return inserted;
  }

  #idOf(shard: number): unknown {
    return (this.#ids[shard] ??= this.#namespace.idFromName(`${this.#name}:${shard}`));
  }
}

function utf16Bytes(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes[2 * i] = unit >>> 8;
    bytes[2 * i + 1] = unit & 0xff;
  }
  return bytes;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}
