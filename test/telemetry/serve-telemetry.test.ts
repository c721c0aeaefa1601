import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * `ipstamp serve` as an operator runs it: the Prometheus route moved or off (--metrics-path),
 * and --telemetry with an SDK preloaded (`node --import otel-preload.mjs`) that writes what it
 * exports to a file. The built CLI runs (`npx tsc -p tsconfig.json` first).
 */
const { spans: SPAN, metrics: METRIC, attributes: ATTR } = TELEMETRY_NAMES;
const PRELOAD = resolve(import.meta.dirname, 'otel-preload.mjs');
const scratch = scratchDir();
let key: TestKeyPair;
let keysFile: string;
const running: RunningServe[] = [];

beforeAll(async () => {
  key = await makeKey('ES256', 'serve-otel');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  scratch.cleanup();
});

async function serve(args: string[], node?: Parameters<typeof startServe>[2]): Promise<RunningServe> {
  const started = await startServe(['--port', '0', '--keys', keysFile, ...args], 'serve', node);
  running.push(started);
  return started;
}

async function stampedGet(base: string, path: string, token?: string): Promise<Response> {
  const t = token ?? (await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${base}${path}` }));
  return fetch(`${base}${path}`, { headers: { 'client-ip-attestation': t } });
}

describe('--metrics-path', () => {
  it('moves the Prometheus route: served at the path given, /metrics is then an ordinary verified path', async () => {
    const s = await serve(['--metrics-path', '/ops/ipstamp-metrics']);
    const metrics = await fetch(`${s.url}/ops/ipstamp-metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^ipstamp_accepted_total\{agreement="match"\} 0$/m);
    const plain = await fetch(`${s.url}/metrics`);
    expect([plain.status, ((await plain.json()) as { reason: string }).reason]).toEqual([401, 'missing']);
    expect(((await (await stampedGet(s.url, '/metrics')).json()) as { agreement: string }).agreement).toBe('match');
  });

  it('/metrics: the counters there, refusals and acceptances counted', async () => {
    const s = await serve(['--metrics-path', '/metrics']);
    expect((await fetch(`${s.url}/x`)).status).toBe(401);
    expect((await stampedGet(s.url, '/y')).status).toBe(200);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^ipstamp_rejected_total\{reason="missing"\} 1$/m);
    expect(metrics).toMatch(/^ipstamp_accepted_total\{agreement="match"\} 1$/m);
  });

  it('off, as without the flag: no Prometheus route at all', async () => {
    const s = await serve(['--metrics-path', 'off']);
    const plain = await fetch(`${s.url}/metrics`);
    expect([plain.status, ((await plain.json()) as { reason: string }).reason]).toEqual([401, 'missing']);
  });
});

describe('--telemetry', () => {
  it('spans and metrics reach the SDK the process preloaded: verify with the store under it, requests counted', async () => {
    const file = join(scratch.dir, 'otel.jsonl');
    const s = await serve(['--telemetry'], { args: ['--import', PRELOAD], env: { IPSTAMP_OTEL_FILE: file } });
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${s.url}/x` });
    expect((await stampedGet(s.url, '/x', token)).status).toBe(200);
    expect((await stampedGet(s.url, '/x', token)).status).toBe(401);

    type Line = {
      span?: string;
      id?: string;
      parent?: string;
      attributes?: Record<string, unknown>;
      metric?: string;
      points?: { attributes: Record<string, unknown>; value: number }[];
    };
    const read = (): Line[] =>
      existsSync(file)
        ? readFileSync(file, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Line)
        : [];
    // the metrics are exported every 100 ms: wait for a snapshot holding both requests (bounded)
    let requests: Line | undefined;
    for (let i = 0; i < 100 && requests === undefined; i++) {
      requests = read()
        .filter((l) => l.metric === METRIC.requests)
        .find((l) => l.points!.reduce((n, p) => n + p.value, 0) === 2);
      if (requests === undefined) await sleep(100);
    }
    expect(requests?.points?.map((p) => [p.attributes[ATTR.outcome], p.value])).toEqual([
      ['accepted', 1],
      ['rejected', 1],
    ]);
    const spans = read().filter((l) => l.span !== undefined);
    expect(spans.map((l) => l.span)).toEqual([SPAN.replayStoreInsert, SPAN.verify, SPAN.replayStoreInsert, SPAN.verify]);
    expect(spans[0]!.parent).toBe(spans[1]!.id);
    expect(spans[3]!.attributes).toMatchObject({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'replay' });
  });
});
