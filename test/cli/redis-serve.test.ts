import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/stamper.js';
import { requireBinary } from '../support/binaries.js';
import { makeKey } from '../support/keys.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { CRASH_TRACES, sendStamped, startTraffic, waitFor, type Answer } from './stamped-traffic.js';

const binary = requireBinary('redis-server');

/** Both servers answer for this public origin, so a stamp made for one is valid on the other. */
const ORIGIN = 'http://api.example';

const scratch = scratchDir();
let redis: RedisServer | undefined;
let stamper: Stamper;
let a: RunningServe;
let b: RunningServe;
/** Same Redis, but `--on-store-error accept`. */
let lenient: RunningServe;
const started: RunningServe[] = [];

const stamp = (path: string): Promise<string> => stamper.stamp({ method: 'GET', url: `${ORIGIN}${path}` });
const send = async (server: RunningServe, path: string): Promise<Answer> => sendStamped(server, path, await stamp(path));
const accepted = (answer: Answer): boolean => answer.status === 200;
const unavailable = (answer: Answer): boolean =>
  answer.status === 503 && answer.contentType === 'application/problem+json' && answer.reason === 'store-unavailable';

/** Polls each server with fresh stamps until it accepts one: the store reconnected by itself. */
async function expectRecovered(servers: readonly RunningServe[], withinMs = 5000): Promise<void> {
  for (const server of servers) {
    await waitFor(`${server.url} to accept stamps again`, async () => accepted(await send(server, '/recovered')), withinMs);
  }
}

/** Alive (answers HTTP) and nothing in its output that a crash or an unhandled error leaves. */
async function expectHealthy(server: RunningServe): Promise<void> {
  const echo = await fetch(`${server.url}/.well-known/ipstamp`, { signal: AbortSignal.timeout(5000) });
  expect(echo.status).toBe(200);
  expect(server.output()).not.toMatch(CRASH_TRACES);
}

beforeAll(async () => {
  if (!binary) return;
  redis = await startRedis(binary);
  const key = await makeKey('ES256', 'fleet-es');
  const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
  const args = (...extra: string[]) => ['--port', '0', '--keys', keys, '--replay-store', redis!.url, '--origin', ORIGIN, ...extra];
  const starting = await Promise.allSettled([
    startServe(args()),
    startServe(args()),
    startServe(args('--on-store-error', 'accept', '--metrics-path', '/metrics')),
  ]);
  // keep every process that did start, so afterAll ends it even when another one failed
  for (const s of starting) if (s.status === 'fulfilled') started.push(s.value);
  for (const s of starting) if (s.status === 'rejected') throw s.reason;
  [a, b, lenient] = started as [RunningServe, RunningServe, RunningServe];
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()));
  await redis?.close();
  scratch.cleanup();
});

describe.skipIf(!binary)('ipstamp serve --replay-store redis://: many servers, one replay memory', () => {
  // a test that failed mid-outage must not take the following ones down with it
  beforeEach(async () => {
    if (!redis!.running) await redis!.restart();
  });

  it('prints the shared store on the start line', () => {
    for (const server of [a, b, lenient]) expect(server.startLine).toContain(`store: redis 127.0.0.1:${redis!.port},`);
  });

  it('a stamp accepted by one server is a replay on the other, in both directions', async () => {
    for (const [first, second] of [
      [a, b],
      [b, a],
    ] as const) {
      const token = await stamp('/orders');
      const ok = await sendStamped(first, '/orders', token);
      expect(ok.status, ok.body).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ ip: '127.0.0.1', agreement: 'match', kid: 'fleet-es' });
      const again = await sendStamped(second, '/orders', token);
      expect(again).toMatchObject({ status: 401, contentType: 'application/problem+json', reason: 'replay' });
    }
  });

  it('100 concurrent copies of one stamp over both servers: exactly one accepted, 99 replays', async () => {
    // first open the sockets and warm both servers up, so that the race below measures the
    // store, not 100 cold connections on a busy machine (those can miss the 200 ms deadline)
    await Promise.all(Array.from({ length: 100 }, (_, i) => send(i % 2 === 0 ? a : b, '/warm-up')));
    // An insert that misses the deadline on a loaded machine is a 503, which is right but says
    // nothing about the race: such a round is run again with a fresh stamp (at most three), and
    // every round, whatever its deadlines did, accepts the stamp at most once.
    let outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      const token = await stamp('/race');
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => sendStamped(i % 2 === 0 ? a : b, '/race', token)));
      outcomes = answers.map((x) => (x.status === 200 ? 'accepted' : `${x.status} ${x.reason}`));
      expect(outcomes.filter((o) => o === 'accepted').length).toBeLessThanOrEqual(1);
      expect(outcomes.filter((o) => o !== 'accepted' && o !== '401 replay' && o !== '503 store-unavailable')).toEqual([]);
      if (!outcomes.includes('503 store-unavailable')) break;
    }
    expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(1);
    expect(outcomes.filter((o) => o === '401 replay')).toHaveLength(99);
  }, 30_000);

  it('Redis stopped under traffic: 503 store-unavailable before Redis is back, none accepted, no crash, heals without a restart', async () => {
    const traffic = startTraffic([a, b], stamp, { everyMs: 50, perTick: 2, maxMs: 15_000 });
    let stoppedAt = Infinity;
    let restartingAt = Infinity;
    let answers: Answer[] = [];
    try {
      await waitFor(
        'traffic accepted by both servers before the outage',
        () => [a, b].every((s) => traffic.answers.some((x) => x.server === s && accepted(x))),
        5000,
      );
      await redis!.stop();
      // Redis has exited: whatever is sent from here on cannot reach it, so cannot be accepted
      stoppedAt = performance.now();
      const outageOf = (s: RunningServe) => traffic.answers.filter((x) => x.server === s && x.sentAt >= stoppedAt);
      await waitFor('2 s of outage traffic to both servers', () => performance.now() - stoppedAt > 2000 && [a, b].every((s) => outageOf(s).length >= 10), 8000);
      // anything answered before this instant cannot have been served by the restarted Redis
      restartingAt = performance.now();
      await redis!.restart();
      const backAt = performance.now();
      await waitFor(
        'both servers to accept traffic after Redis came back',
        () => [a, b].every((s) => traffic.answers.some((x) => x.server === s && x.sentAt >= backAt && accepted(x))),
        5000,
      );
    } finally {
      answers = await traffic.stop();
    }
    // order, not milliseconds: requests sent after the stop were answered before the restart
    // began — a server waiting for Redis could answer none of them then — and every one was a 503
    const outage = answers.filter((x) => x.sentAt >= stoppedAt && x.answeredAt <= restartingAt);
    expect(outage.length).toBeGreaterThanOrEqual(20);
    for (const answer of outage) expect(unavailable(answer), `${answer.status} ${answer.body}`).toBe(true);
    // around the edges (in flight at the stop, or while Redis came back) either answer is
    // right, but nothing else: no other status, and never a dropped connection
    for (const answer of answers) expect(accepted(answer) || unavailable(answer), `${answer.status} ${answer.body}`).toBe(true);
    for (const server of [a, b]) await expectHealthy(server);
  }, 30_000);

  it('Redis frozen (SIGSTOP): 503 while still frozen instead of a hang; accepted again after SIGCONT', async () => {
    const answers: Answer[] = [];
    redis!.pause();
    try {
      // rounds one after another: commands left unanswered on the socket must not slow later ones
      for (let round = 0; round < 3; round++) answers.push(...(await Promise.all([send(a, '/frozen'), send(b, '/frozen')])));
    } finally {
      redis!.resume();
    }
    // all answered while Redis was still frozen (resumed only after the rounds), each a 503:
    // a server waiting on the frozen Redis would have hit sendStamped's 5 s abort (status 0)
    for (const answer of answers) expect(unavailable(answer), `${answer.status} ${answer.body}`).toBe(true);
    await expectRecovered([a, b]);
    for (const server of [a, b]) await expectHealthy(server);
  }, 20_000);

  it('--on-store-error accept: Redis down, stamps accepted unchecked, counted, and a warning logged per request', async () => {
    const warnings = () => lenient.output().match(/^\{.*"level":40.*ACCEPTED WITHOUT a replay check.*\}$/gm)?.length ?? 0;
    expect(lenient.output()).toMatch(/^\{.*"level":40.*onStoreError is 'accept'.*replays possible.*\}$/m);
    const warnedBefore = warnings();
    await redis!.stop();
    try {
      const token = await stamp('/lenient');
      const first = await sendStamped(lenient, '/lenient', token);
      expect(first.status, first.body).toBe(200);
      // the answer itself says the replay check was skipped
      expect(JSON.parse(first.body)).toMatchObject({ ip: '127.0.0.1', agreement: 'match', replayChecked: false });
      // the trade this flag makes: with no replay check, the same stamp passes again
      expect((await sendStamped(lenient, '/lenient', token)).status).toBe(200);
      // the default at the same moment, on a server sharing the same Redis
      expect(unavailable(await send(a, '/lenient'))).toBe(true);
      const metrics = await (await fetch(`${lenient.url}/metrics`)).text();
      expect(metrics).toMatch(/^ipstamp_replay_unchecked_total 2$/m);
      await waitFor('two warning lines from the lenient server', () => warnings() === warnedBefore + 2, 3000);
    } finally {
      await redis!.restart();
    }
    await expectRecovered([lenient]);
    await expectHealthy(lenient);
  }, 20_000);

  it('SIGTERM while Redis is down: every process exits 0 by itself', async () => {
    await redis!.stop();
    // each store is now between reconnection attempts, its socket already closed
    expect(unavailable(await send(a, '/last'))).toBe(true);
    const servers = started.splice(0);
    const exits = await Promise.all(servers.map((s) => s.stop()));
    // 0, not null: each exited by itself, before stop()'s safety SIGKILL
    expect(exits).toEqual(servers.map(() => 0));
    for (const server of servers) expect(server.output()).not.toMatch(CRASH_TRACES);
  });
});
