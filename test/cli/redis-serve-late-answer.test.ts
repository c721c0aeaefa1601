/**
 * `ipstamp serve` with its verdict held in Redis (`CLIENT PAUSE … WRITE`: the `SET NX` waits,
 * counted in `blocked_clients`) while the client resets its connection: once Redis answers, or
 * `--store-timeout` gives up on it, the verdict lands on a request nobody is waiting for. The
 * process goes on serving, with no crash trace, the verdict counted as for any request and the
 * stamp consumed either way (PROTOCOL.md §5 step 10). The gateway's case is
 * test/cli/gateway-client-gone.test.ts.
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/stamper.js';
import { requireBinary } from '../support/binaries.js';
import { makeKey } from '../support/keys.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { CRASH_TRACES, sendStamped, waitFor } from './stamped-traffic.js';

const binary = requireBinary('redis-server');
const scratch = scratchDir();
let redis: RedisServer | undefined;
let admin: Redis | undefined;
/** Waits as long as Redis does. */
let patient: RunningServe | undefined;
/** Gives up on Redis after 100 ms: 503 store-unavailable. */
let hasty: RunningServe | undefined;
let stamper: Stamper;

async function blockedClients(): Promise<number> {
  const info = (await admin!.info('clients')) as string;
  return Number(/blocked_clients:(\d+)/.exec(info)?.[1]);
}

function serveOn(keys: string, storeTimeoutMs: number): Promise<RunningServe> {
  return startServe(['--port', '0', '--keys', keys, '--replay-store', redis!.url, '--store-timeout', String(storeTimeoutMs), '--metrics-path', '/metrics']);
}

/** `serve`'s counters of accepted and rejected stamps, as `name{labels} n` lines with a count. */
async function counted(server: RunningServe): Promise<string[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text.split('\n').filter((line) => /^ipstamp_(accepted|rejected)_total\{.*\} [1-9]/.test(line));
}

const stampFor = (server: RunningServe, path: string): Promise<string> => stamper.stamp({ method: 'GET', url: `${server.url}${path}` });

/** Sends a stamped GET and resets the connection while `serve` waits on Redis for its verdict. */
async function sendAndReset(server: RunningServe, path: string, token: string): Promise<void> {
  await admin!.call('CLIENT', 'PAUSE', '30000', 'WRITE');
  const client = connect({ host: '127.0.0.1', port: server.port });
  client.on('error', () => undefined);
  await new Promise<void>((done) => client.once('connect', done));
  client.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nClient-IP-Attestation: ${token}\r\n\r\n`);
  await waitFor('serve to wait on Redis', async () => (await blockedClients()) >= 1, 10_000);
  client.resetAndDestroy();
  // a later exchange with serve: it has read the reset by the time this is answered
  expect((await fetch(`${server.url}/.well-known/ipstamp`)).status).toBe(200);
}

beforeAll(async () => {
  if (!binary) return;
  redis = await startRedis(binary);
  admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  const key = await makeKey('HS256', 'late-answer');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
  const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
  [patient, hasty] = await Promise.all([serveOn(keys, 30_000), serveOn(keys, 100)]);
}, 30_000);

afterAll(async () => {
  await admin?.call('CLIENT', 'UNPAUSE').catch(() => undefined);
  await Promise.all([patient?.stop(), hasty?.stop()]);
  admin?.disconnect();
  await redis?.close();
  scratch.cleanup();
});

describe.skipIf(!binary)('ipstamp serve: a verdict that arrives after its client reset', () => {
  it('accepted by Redis once it answers: counted, the stamp consumed, and serve serves on', async () => {
    const token = await stampFor(patient!, '/gone');
    await sendAndReset(patient!, '/gone', token);
    await admin!.call('CLIENT', 'UNPAUSE');
    // the gone request's SET went first on the store's connection: its verdict is in before this one's
    const replayed = await sendStamped(patient!, '/gone', token);
    expect([replayed.status, replayed.reason]).toEqual([401, 'replay']);
    expect(await counted(patient!)).toEqual(['ipstamp_accepted_total{agreement="match"} 1', 'ipstamp_rejected_total{reason="replay"} 1']);
    expect(patient!.output()).not.toMatch(CRASH_TRACES);
  });

  it('refused as a replay once Redis answers: the refusal goes nowhere, logged without the stamp, and serve serves on', async () => {
    const token = await stampFor(patient!, '/twice');
    expect((await sendStamped(patient!, '/twice', token)).status).toBe(200);
    await sendAndReset(patient!, '/twice', token);
    await admin!.call('CLIENT', 'UNPAUSE');
    expect((await sendStamped(patient!, '/after', await stampFor(patient!, '/after'))).status).toBe(200);
    expect(await counted(patient!)).toEqual(['ipstamp_accepted_total{agreement="match"} 3', 'ipstamp_rejected_total{reason="replay"} 2']);
    expect(patient!.output()).not.toMatch(CRASH_TRACES);
    expect(patient!.output()).not.toContain(token.split('.')[2]);
  });

  it('--store-timeout gives up while the client is gone: 503 store-unavailable counted, nothing accepted, serve serves on', async () => {
    const token = await stampFor(hasty!, '/late');
    await sendAndReset(hasty!, '/late', token);
    await waitFor('the store timeout to refuse /late', async () => (await counted(hasty!)).length > 0, 10_000);
    expect(await counted(hasty!)).toEqual(['ipstamp_rejected_total{reason="store-unavailable"} 1']);
    await admin!.call('CLIENT', 'UNPAUSE');
    expect((await sendStamped(hasty!, '/after', await stampFor(hasty!, '/after'))).status).toBe(200);
    expect(hasty!.output()).not.toMatch(CRASH_TRACES);
  });
});
