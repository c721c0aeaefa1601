import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isIpStampError } from '../../shared/errors.js';
import { RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const binary = requireBinary('redis-server');

const TIMEOUT_MS = 200;

interface Outcome {
  answer?: boolean;
  error?: unknown;
  ms: number;
}

async function timedInsert(store: RedisReplayStore, key: string): Promise<Outcome> {
  const started = performance.now();
  try {
    const answer = await store.insertIfAbsent(key, 30_000);
    return { answer, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

/** Inserts new keys one after another, every `gapMs`, until `ms` have passed and at least `atLeast` were made. */
async function insertFor(store: RedisReplayStore, ms: number, gapMs = 20, atLeast = 4): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until || outcomes.length < atLeast) {
    outcomes.push(await timedInsert(store, `flow ${randomUUID()}`));
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return outcomes;
}

/**
 * Every insert was refused, and — since callers bring Redis back only after these settled — each
 * was refused while Redis was still down or frozen: an insert waiting for Redis would hang the
 * test into its timeout instead. Order, not milliseconds: a loaded machine cannot break it.
 */
function expectRefusedWhileDown(outcomes: Outcome[]): void {
  expect(outcomes.length).toBeGreaterThan(0);
  for (const outcome of outcomes) {
    expect(outcome).not.toHaveProperty('answer');
    expect(isIpStampError(outcome.error) && outcome.error.reason).toBe('store-unavailable');
  }
}

/** Polls with fresh keys until one is accepted (`withinMs` is a safety limit); returns how long recovery took. */
async function recovery(store: RedisReplayStore, withinMs = 15_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const outcome = await timedInsert(store, `recovery ${randomUUID()}`);
    if (outcome.answer === true) return performance.now() - started;
    if (performance.now() - started > withinMs) throw new Error(`no recovery within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!binary)('RedisReplayStore when Redis fails', () => {
  let redis: RedisServer;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  const clientErrors: Error[] = [];
  let store: RedisReplayStore;

  beforeAll(async () => {
    redis = await startRedis(binary!);
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await redis?.close();
  });
  beforeEach(async () => {
    if (!redis.running) await redis.restart();
    store = new RedisReplayStore(redis.url, { timeoutMs: TIMEOUT_MS, onClientError: (error) => clientErrors.push(error) });
    expect(await store.insertIfAbsent(`warm ${randomUUID()}`, 30_000)).toBe(true);
  });
  afterEach(async () => {
    await store.close();
    expect(unhandled).toEqual([]);
  });

  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'rejects every insert while Redis is down (%s), before it is back, and recovers on restart without a new store',
    async (signal) => {
      const before = insertFor(store, 300);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await redis.stop(signal);
      await before;
      const outage = await insertFor(store, 1_000);
      expectRefusedWhileDown(outage);
      // The reconnect attempts were reported, not thrown.
      expect(clientErrors.length).toBeGreaterThan(0);

      await redis.restart();
      // healed without a new store: an insert is accepted again
      await recovery(store);
      const after = await insertFor(store, 200);
      expect(after.every((outcome) => outcome.answer === true)).toBe(true);
    },
  );

  it('rejects while Redis is still frozen (SIGSTOP), and works again after SIGCONT', async () => {
    redis.pause();
    try {
      const frozen = await insertFor(store, 1_000);
      expectRefusedWhileDown(frozen);
      // Concurrent inserts do not wait in line behind each other either.
      const burst = await Promise.all(Array.from({ length: 20 }, () => timedInsert(store, `burst ${randomUUID()}`)));
      expectRefusedWhileDown(burst);
    } finally {
      redis.resume();
    }
    await recovery(store);
  });

  it('bounds the commands held while Redis is frozen: beyond maxPending, inserts fail at once', async () => {
    const small = new RedisReplayStore(redis.url, { timeoutMs: TIMEOUT_MS, maxPending: 5 });
    try {
      expect(await small.insertIfAbsent(`warm ${randomUUID()}`, 30_000)).toBe(true);
      redis.pause();
      const stalled = await Promise.all(Array.from({ length: 5 }, () => timedInsert(small, `held ${randomUUID()}`)));
      expectRefusedWhileDown(stalled);
      // The five commands still sit unanswered on the socket: the sixth is refused at once.
      // at once: refused before the event loop's next turn, so no command and no deadline timer
      const sixth = timedInsert(small, `refused ${randomUUID()}`);
      const nextTurn = new Promise<'next turn'>((resolve) => setImmediate(() => resolve('next turn')));
      expect(await Promise.race([sixth.then(() => 'refused'), nextTurn])).toBe('refused');
      expect(isIpStampError((await sixth).error)).toBe(true);
      redis.resume();
      await recovery(small);
    } finally {
      if (redis.running) redis.resume();
      await small.close();
    }
  });

  it('many inserts held by a frozen Redis each time out, in the order they were made, under one timer', async () => {
    const held = new RedisReplayStore(redis.url, { timeoutMs: 400 });
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const settled: { index: number; reason?: unknown; cause?: string }[] = [];
    const insert = (index: number): Promise<void> =>
      held.insertIfAbsent(`held ${index} ${randomUUID()}`, 30_000).then(
        () => void settled.push({ index }),
        (error: unknown) => void settled.push({ index, reason: isIpStampError(error) && error.reason, cause: String((error as Error).cause) }),
      );
    try {
      expect(await held.insertIfAbsent(`warm ${randomUUID()}`, 30_000)).toBe(true);
      redis.pause();
      // Counted around synchronous calls only: the test runner keeps timers of its own.
      let before = timers();
      const first = Array.from({ length: 40 }, (_, i) => insert(i));
      // forty deadlines in flight, one timer for all of them (a timer each would count forty)
      expect(timers() - before).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 30));
      before = timers();
      const second = Array.from({ length: 40 }, (_, i) => insert(40 + i));
      expect(timers() - before).toBe(0);
      await Promise.all([...first, ...second]);
      // all settled, nothing pending holds a timer (or the process): the next insert arms one
      before = timers();
      const last = insert(80);
      expect(timers() - before).toBe(1);
      await last;
      expect(settled.map((s) => s.index)).toEqual(Array.from({ length: 81 }, (_, i) => i));
      for (const s of settled) {
        expect(s.reason).toBe('store-unavailable');
        expect(s.cause).toMatch(/did not answer within 400 ms/);
      }
    } finally {
      redis.resume();
    }
    await recovery(held);
    await held.close();
  });

  it('refuses, without waiting, while Redis is not up yet, then works once it is', async () => {
    const port = await freePort();
    const early = new RedisReplayStore(`redis://127.0.0.1:${port}`, { timeoutMs: TIMEOUT_MS, onClientError: () => undefined });
    let late: RedisServer | undefined;
    try {
      expectRefusedWhileDown(await insertFor(early, 1_000));
      late = await startRedis(binary!, { port });
      await recovery(early);
    } finally {
      await early.close();
      await late?.close();
    }
  });
});
