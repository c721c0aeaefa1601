import { afterEach, describe, expect, it, vi } from 'vitest';
import { IpStampError } from '../../shared/errors.js';
import { DurableObjectReplayStore, type ReplayNamespace } from '../../server/cloudflare/durable-object-store.js';
import { IpStampReplayObject } from '../../server/cloudflare/replay-object.js';

/**
 * The defaults docs/workers.md states for `DurableObjectReplayStore` and `IpStampReplayObject`.
 * Every Worker sharing a namespace must agree on shards and name, so a Worker that relies on
 * the defaults relies on these exact values.
 */

/** A namespace whose objects all answer "inserted", recording the object names the store asks for. */
function recordingNamespace(answer: () => Promise<Response> = async () => Response.json({ inserted: true })) {
  const names = new Set<string>();
  const namespace: ReplayNamespace = {
    idFromName: (name) => {
      names.add(name);
      return name;
    },
    get: () => ({ fetch: answer }),
  };
  return { namespace, names };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('docs/workers.md: DurableObjectReplayStore defaults', () => {
  it('shards 16, name ipstamp-replay: keys spread over exactly ipstamp-replay:0 … ipstamp-replay:15', async () => {
    const { namespace, names } = recordingNamespace();
    const store = new DurableObjectReplayStore({ namespace });
    expect(store.shards).toBe(16);
    for (let i = 0; i < 400; i++) expect(await store.insertIfAbsent(`kid jti-${i}`, 60_000)).toBe(true);
    expect([...names].sort()).toEqual(Array.from({ length: 16 }, (_, i) => `ipstamp-replay:${i}`).sort());
  });

  it('timeoutMs 2000: an object that never answers is store-unavailable at 2000 ms, not before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { namespace } = recordingNamespace(() => new Promise<Response>(() => {}));
    const store = new DurableObjectReplayStore({ namespace });
    let settled: unknown = 'pending';
    store.insertIfAbsent('kid jti', 60_000).then(
      (value) => (settled = value),
      (error: unknown) => (settled = error),
    );
    await vi.advanceTimersByTimeAsync(1999);
    expect(settled).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBeInstanceOf(IpStampError);
    expect((settled as IpStampError).reason).toBe('store-unavailable');
  });

  it('timeoutMs at most 2147483647 (the longest delay setTimeout keeps)', () => {
    const { namespace } = recordingNamespace();
    expect(() => new DurableObjectReplayStore({ namespace, timeoutMs: 2_147_483_647 })).not.toThrow();
    expect(() => new DurableObjectReplayStore({ namespace, timeoutMs: 2_147_483_648 })).toThrow(
      new TypeError('timeoutMs must be a whole number of milliseconds from 1 to 2147483647'),
    );
  });

  it('IpStampReplayObject.maxEntries is 100,000 by default', () => {
    expect(IpStampReplayObject.maxEntries).toBe(100_000);
  });
});
