import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

const scratch = scratchDir();
let upstream: Server;
let upstreamPort: number;
let gateway: RunningServe;
let key: TestKeyPair;

beforeAll(async () => {
  // a backend in "any language": it only reads the attested header
  upstream = createServer((req, res) => res.end(JSON.stringify({ ip: req.headers['x-attested-client-ip'] ?? null })));
  upstreamPort = await listenOnFreePort(upstream);
  key = await makeKey('ES256', 'gw');
  gateway = await startServe(
    ['--port', '0', '--keys', scratch.file('keys.json', { keys: [key.publicJwk] }), '--upstream', `http://127.0.0.1:${upstreamPort}`],
    'gateway',
  );
});
afterAll(async () => {
  await gateway?.stop();
  upstream?.close();
  scratch.cleanup();
});

describe('ipstamp gateway', () => {
  it('forwards an accepted request with the attested address, and refuses a forged one itself', async () => {
    const stamp = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${gateway.url}/me` });
    const ok = await fetch(`${gateway.url}/me`, { headers: { 'client-ip-attestation': stamp, 'x-attested-client-ip': '203.0.113.9' } });
    expect(await ok.json()).toEqual({ ip: '127.0.0.1' });
    const forged = await fetch(`${gateway.url}/me`, { headers: { 'x-attested-client-ip': '203.0.113.9' } });
    expect(forged.status).toBe(401);
  });

  it('takes --upstream=URL as well as --upstream URL', async () => {
    const joined = await startServe(
      ['--port', '0', '--keys', scratch.file('k3.json', { keys: [key.publicJwk] }), `--upstream=http://127.0.0.1:${upstreamPort}`],
      'gateway',
    );
    try {
      const stamp = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${joined.url}/joined` });
      const ok = await fetch(`${joined.url}/joined`, { headers: { 'client-ip-attestation': stamp } });
      expect(await ok.json()).toEqual({ ip: '127.0.0.1' });
    } finally {
      await joined.stop();
    }
  });

  it('refuses to start without --upstream, in one line, exit 2', async () => {
    const result = await runCli(['gateway', '--keys', scratch.file('k2.json', { keys: [key.publicJwk] })]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/--upstream/);
  });
});
