import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { writeAndReset } from '../support/reset-client.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

/**
 * Regression (issue 12 item 1) through the standalone verifier, whose request logging is off —
 * nothing else reads the peer early there. `--on-unverifiable accept` is the policy the reset
 * trick turned into acceptances of any claimed address.
 */
const scratch = scratchDir();
let key: TestKeyPair;
let serve: RunningServe;

beforeAll(async () => {
  key = await makeKey('ES256', 'reset-es');
  serve = await startServe([
    '--port',
    '0',
    '--keys',
    scratch.file('keys.json', { keys: [key.publicJwk] }),
    '--on-unverifiable',
    'accept',
    '--metrics-path',
    '/metrics',
  ]);
});
afterAll(async () => {
  await serve?.stop();
  scratch.cleanup();
});

async function counters(): Promise<Map<string, number>> {
  const text = await (await fetch(`${serve.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(ipstamp_(?:accepted|rejected)_total)\{\w+="([\w-]+)"\} (\d+)$/.exec(line);
    if (m) out.set(`${m[1]}:${m[2]}`, Number(m[3]));
  }
  return out;
}

const sum = (c: Map<string, number>, prefix: string) => [...c].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);

describe('ipstamp serve: a connection reset right after its request', () => {
  it('never turns a claimed address into an accepted stamp (--on-unverifiable accept)', async () => {
    const stamper = createStamper({ key: key.privateJwk, ip: '203.0.113.66' });
    for (let i = 0; i < 24; i++) {
      const token = await stamper.stamp({ method: 'GET', url: `${serve.url}/orders` });
      await writeAndReset(serve.port, '/orders', { 'client-ip-attestation': token });
      await fetch(`${serve.url}/.well-known/ipstamp`);
    }
    // the counters settle once a later request on a fresh connection has been answered twice alike
    let c = await counters();
    for (let round = 0; round < 50; round++) {
      const next = await counters();
      if (JSON.stringify([...next]) === JSON.stringify([...c])) break;
      c = next;
    }
    const accepted = sum(c, 'ipstamp_accepted_total');
    const rejected = sum(c, 'ipstamp_rejected_total');
    expect(accepted + rejected, 'no reset request reached the verifier: the test proved nothing').toBeGreaterThan(0);
    expect(accepted).toBe(0);
    expect(c.get('ipstamp_rejected_total:ip-mismatch')! + c.get('ipstamp_rejected_total:ip-unverifiable')!).toBe(rejected);
  });
});
