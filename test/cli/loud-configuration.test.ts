import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from './cli-process.js';

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
    const serve = await startServe(['--port', '0', '--keys', keysFile, '--trusted-proxies', 'loopback', '--forwarded-header', 'forwarded', '--on-unverifiable', 'accept']);
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
