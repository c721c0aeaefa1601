import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { requireBinary } from '../support/binaries.js';
import { startHaproxy } from '../support/haproxy.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePorts } from '../support/ports.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

/** Issue 12, item 6: `serve` says, at start, every policy it runs loosened, and notices a proxy writing the other header. */
const scratch = scratchDir();
let key: TestKeyPair;
let keysFile: string;

beforeAll(async () => {
  key = await makeKey('ES256', 'loud-es');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
});
afterAll(() => scratch.cleanup());

/** The output once it shows `expected` (bounded: the child's last pipe bytes may arrive after its exit event). */
async function outputShowing(serve: RunningServe, expected: string): Promise<string> {
  for (let i = 0; i < 100 && !serve.output().includes(expected); i++) await new Promise((r) => setTimeout(r, 20));
  return serve.output();
}

const logLines = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('ipstamp serve: loosened policies are loud', () => {
  it('the start line and one warning name every loosened policy', async () => {
    const serve = await startServe(['--port', '0', '--keys', keysFile, '--on-mismatch', 'flag', '--on-unverifiable', 'accept', '--on-store-error', 'accept']);
    try {
      expect(serve.startLine).toMatch(/, LOOSENED: onMismatch: flag, onUnverifiable: accept, onStoreError: accept$/);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
    // read after exit: the log stream may flush after the start line
    const warnings = logLines(await outputShowing(serve, 'LOOSENED policies')).filter((l) => l.level === 40);
    expect(warnings.map((l) => l.ipstamp)).toEqual([{ loosened: ['onMismatch: flag', 'onUnverifiable: accept', 'onStoreError: accept'] }]);
  });

  it('one loosened policy is named alone; strict flags say nothing', async () => {
    const one = await startServe(['--port', '0', '--keys', keysFile, '--on-unverifiable', 'accept', '--on-mismatch', 'reject']);
    try {
      expect(one.startLine).toMatch(/, LOOSENED: onUnverifiable: accept$/);
    } finally {
      await one.stop();
    }
    // the gateway's start line is serve's: the same words (the upstream is not called at start)
    const gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', 'http://127.0.0.1:9', '--on-mismatch', 'flag'], 'gateway');
    try {
      expect(gateway.startLine).toMatch(/, LOOSENED: onMismatch: flag$/);
    } finally {
      await gateway.stop();
    }
    const strict = await startServe(['--port', '0', '--keys', keysFile, '--on-store-error', 'reject']);
    try {
      expect(strict.startLine).not.toContain('LOOSENED');
    } finally {
      await strict.stop();
    }
    expect(logLines(strict.output()).filter((l) => l.level === 40)).toEqual([]);
  });
});

describe('ipstamp serve: a trusted proxy writing the other forwarding header', () => {
  const run = async (forwarding: Record<string, string>) => {
    const serve = await startServe([
      '--port',
      '0',
      '--keys',
      keysFile,
      '--trusted-proxies',
      'loopback',
      '--forwarded-header',
      'forwarded',
      '--on-unverifiable',
      'accept',
    ]);
    const agreements: unknown[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const url = `${serve.url}/r${i}`;
        const token = await createStamper({ key: key.privateJwk, ip: '198.51.100.44' }).stamp({ method: 'GET', url });
        const response = await fetch(url, { headers: { 'client-ip-attestation': token, ...forwarding } });
        agreements.push(((await response.json()) as { agreement: unknown }).agreement);
      }
    } finally {
      await serve.stop();
    }
    const output = 'forwarded' in forwarding ? serve.output() : await outputShowing(serve, 'forwarding header other than the configured one');
    const warnings = logLines(output).filter((l) => l.level === 40 && String(l.msg).includes('forwarding header other than the configured one'));
    return { agreements, warnings };
  };

  it('X-Forwarded-For while configured for forwarded: exactly one warning after several requests', async () => {
    const { agreements, warnings } = await run({ 'x-forwarded-for': '198.51.100.44' });
    expect(agreements).toEqual(['unverifiable', 'unverifiable', 'unverifiable', 'unverifiable']);
    expect(warnings.map((l) => l.ipstamp)).toEqual([{ forwardedHeader: 'forwarded', sent: ['x-forwarded-for'], peer: '127.0.0.1' }]);
  });

  it('with the configured header: no warning', async () => {
    const { agreements, warnings } = await run({ forwarded: 'for=198.51.100.44' });
    expect(agreements).toEqual(['match', 'match', 'match', 'match']);
    expect(warnings).toEqual([]);
  });
});

const haproxy = requireBinary('haproxy');
const CLIENT = '127.0.0.5';

describe.skipIf(!haproxy)('behind HAProxy (mode http, option forwardfor: it writes X-Forwarded-For)', () => {
  /** serve behind HAProxy with `--forwarded-header HEADER`; four stamped requests from 127.0.0.5 claiming `ip`. */
  async function behindHaproxy(header: string, ip: string) {
    const serve = await startServe([
      '--port',
      '0',
      '--keys',
      keysFile,
      '--trusted-proxies',
      '127.0.0.1',
      '--forwarded-header',
      header,
      '--on-unverifiable',
      'accept',
    ]);
    const [front] = (await freePorts(1)) as [number];
    const client = new Agent({ localAddress: CLIENT });
    const answers: unknown[] = [];
    try {
      const proxy = await startHaproxy(
        haproxy!,
        `
defaults
    mode http
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend front
    bind 127.0.0.1:${front}
    option forwardfor
    default_backend serve

backend serve
    server serve 127.0.0.1:${serve.port}
`,
        [front],
      );
      try {
        for (let i = 0; i < 4; i++) {
          const url = `http://127.0.0.1:${front}/h${i}`;
          const token = await createStamper({ key: key.privateJwk, ip }).stamp({ method: 'GET', url });
          const response = await undiciFetch(url, { dispatcher: client, headers: { 'client-ip-attestation': token } });
          answers.push(((await response.json()) as { agreement?: unknown; reason?: unknown }).agreement);
        }
      } finally {
        await proxy.stop();
      }
    } finally {
      await client.close();
      await serve.stop();
    }
    return { answers, serve };
  }

  it('--forwarded-header forwarded: a lie passes as unverifiable, and the log says why, exactly once', async () => {
    const { answers, serve } = await behindHaproxy('forwarded', '198.51.100.44');
    expect(answers).toEqual(['unverifiable', 'unverifiable', 'unverifiable', 'unverifiable']);
    const output = await outputShowing(serve, 'forwarding header other than the configured one');
    const warnings = logLines(output).filter((l) => l.level === 40 && String(l.msg).includes('forwarding header other than the configured one'));
    expect(warnings.map((l) => l.ipstamp)).toEqual([{ forwardedHeader: 'forwarded', sent: ['x-forwarded-for'], peer: '127.0.0.1' }]);
  });

  it('--forwarded-header x-forwarded-for (what HAProxy writes): match, and no warning', async () => {
    const { answers, serve } = await behindHaproxy('x-forwarded-for', CLIENT);
    expect(answers).toEqual(['match', 'match', 'match', 'match']);
    expect(logLines(serve.output()).filter((l) => l.level === 40 && String(l.msg).includes('forwarding header'))).toEqual([]);
  });
});
