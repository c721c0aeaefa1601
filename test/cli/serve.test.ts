import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { openReplayStore } from '../../server/cli/replay-store-option.js';
import { readServeConfig } from '../../server/cli/serve-config.js';
import { UsageError } from '../../server/cli/usage-error.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

const scratch = scratchDir();
let key: TestKeyPair;
let keysFile: string;
let serve: RunningServe;
let stamper: Stamper;

beforeAll(async () => {
  key = await makeKey('ES256', 'cli-es');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
  serve = await startServe(['--port', '0', '--keys', keysFile]);
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
});
afterAll(async () => {
  await serve?.stop();
  scratch.cleanup();
});

async function stamped(path: string, init: { method?: string; body?: string; ip?: string; contentType?: string } = {}) {
  const method = init.method ?? 'GET';
  const url = `${serve.url}${path}`;
  const s = init.ip ? createStamper({ key: key.privateJwk, ip: init.ip }) : stamper;
  const token = await s.stamp({ method, url, body: init.body });
  const headers: Record<string, string> = { 'client-ip-attestation': token };
  if (init.contentType) headers['content-type'] = init.contentType;
  return { token, response: await fetch(url, { method, body: init.body, headers }) };
}

describe('ipstamp serve (standalone verifier)', () => {
  it('prints one start line with the real address, the keys, the trusted proxies and the store', () => {
    expect(serve.port).toBeGreaterThan(0);
    expect(serve.startLine).toBe(`ipstamp serve: listening on ${serve.url} — 1 key from ${keysFile}, trusted proxies: none, store: memory, upstream: none`);
  });

  it('answers a stamped request on any path and method with the verdict as JSON', async () => {
    const { response } = await stamped('/any/path?q=1', { method: 'POST', body: '{"a": 1}', contentType: 'application/json' });
    expect(response.status).toBe(200);
    const verdict = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(verdict).sort()).toEqual(['agreement', 'hints', 'iat', 'ip', 'jti', 'kid', 'source']);
    expect(verdict).toMatchObject({ ip: '127.0.0.1', agreement: 'match', kid: 'cli-es', hints: { l3: '127.0.0.1', observed: '127.0.0.1' } });
    const root = await stamped('/');
    expect(root.response.status).toBe(200);
  });

  it('checks cdg over any content type', async () => {
    const { response } = await stamped('/upload', { method: 'PUT', body: 'raw bytes', contentType: 'application/x-custom' });
    expect(response.status).toBe(200);
  });

  it('answers rejections as problem+json: missing, replay, ip-mismatch', async () => {
    const missing = await fetch(`${serve.url}/x`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(await missing.json()).toEqual({ type: 'urn:ipstamp:missing', title: 'Client IP attestation required', status: 401, reason: 'missing' });

    const { token } = await stamped('/once');
    const again = await fetch(`${serve.url}/once`, { headers: { 'client-ip-attestation': token } });
    expect(((await again.json()) as { reason: string }).reason).toBe('replay');

    const { response } = await stamped('/x', { ip: '203.0.113.9' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { reason: string }).reason).toBe('ip-mismatch');
  });

  it('serves the echo route, and no counters unless --metrics-path is given: /metrics is an ordinary verified path', async () => {
    const echo = await fetch(`${serve.url}/.well-known/ipstamp`);
    expect(echo.headers.get('cache-control')).toBe('no-store');
    expect(await echo.json()).toEqual({ ip: '127.0.0.1', time: expect.any(Number) });
    const plain = await fetch(`${serve.url}/metrics`);
    expect([plain.status, ((await plain.json()) as { reason: string }).reason]).toEqual([401, 'missing']);
    const { response } = await stamped('/metrics');
    expect(((await response.json()) as { agreement: string }).agreement).toBe('match');
  });

  it('logs rejections at info without the token', async () => {
    const { token } = await stamped('/y', { ip: '198.51.100.1' });
    await new Promise((r) => setTimeout(r, 100));
    expect(serve.output()).toMatch(/"reason":"ip-mismatch"/);
    for (const segment of token.split('.')) expect(serve.output()).not.toContain(segment);
  });
});

describe('ipstamp serve options', () => {
  it('--origin: htu names the public origin, not the address the verifier listens on', async () => {
    const s = await startServe(['--port', '0', '--keys', keysFile, '--origin', 'https://api.example.com,https://other.example']);
    try {
      const token = await stamper.stamp({ method: 'GET', url: 'https://api.example.com/orders' });
      expect((await fetch(`${s.url}/orders`, { headers: { 'client-ip-attestation': token } })).status).toBe(200);
      const local = await stamper.stamp({ method: 'GET', url: `${s.url}/orders` });
      const response = await fetch(`${s.url}/orders`, { headers: { 'client-ip-attestation': local } });
      expect(((await response.json()) as { reason: string }).reason).toBe('binding-mismatch');
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('--trusted-proxies with --on-unverifiable accept and --forwarded-header x-real-ip', async () => {
    const s = await startServe([
      '--port',
      '0',
      '--keys',
      keysFile,
      '--trusted-proxies',
      'loopback',
      '--on-unverifiable',
      'accept',
      '--forwarded-header',
      'X-Real-IP',
    ]);
    try {
      expect(s.startLine).toContain('trusted proxies: 127.0.0.0/8,::1/128,');
      const url = `${s.url}/a`;
      const viaProxy = await createStamper({ key: key.privateJwk, ip: '198.51.100.20' }).stamp({ method: 'GET', url });
      const r1 = await fetch(url, { headers: { 'client-ip-attestation': viaProxy, 'x-real-ip': '198.51.100.20', 'x-forwarded-for': '203.0.113.1' } });
      expect(await r1.json()).toMatchObject({ agreement: 'match', hints: { observed: '198.51.100.20', decidedBy: 'l7' } });
      const direct = await stamper.stamp({ method: 'GET', url });
      const r2 = await fetch(url, { headers: { 'client-ip-attestation': direct } });
      expect(await r2.json()).toMatchObject({ agreement: 'unverifiable' });
    } finally {
      await s.stop();
    }
  });

  it('shuts down on SIGTERM with exit 0', async () => {
    const s = await startServe(['--port', '0', '--keys', keysFile]);
    // exit code 0, not null: it exited by itself, before stop()'s safety SIGKILL
    expect(await s.stop()).toBe(0);
  });
});

describe('ipstamp serve refuses bad input with one line and exit 2', () => {
  // spawned: the whole path to the exit code and stderr
  const spawned: [string, () => string[], RegExp][] = [
    ['an unknown flag', () => ['--keys', keysFile, '--bogus'], /^ipstamp serve: Unknown option '--bogus'$/],
    ['a missing keys file', () => ['--keys', '/nonexistent/keys.json'], /^ipstamp serve: --keys \/nonexistent\/keys\.json: cannot read the file \(ENOENT\)$/],
    [
      'a key the verifier cannot load',
      () => ['--keys', scratch.file('short.json', { keys: [{ kty: 'oct', k: 'c2hvcnQ', kid: 'k', alg: 'HS256' }] })],
      /^ipstamp serve: --keys .*short\.json: keys\.keys\[0\]: HMAC secret must be at least 32 bytes$/,
    ],
    // checked by the library (compileOptions), its TypeError told in the flag's name
    ['a bad policy', () => ['--keys', keysFile, '--on-mismatch', 'ignore'], /^ipstamp serve: --on-mismatch must be one of reject, flag$/],
    ['a bad max age', () => ['--keys', keysFile, '--max-age', '0'], /^ipstamp serve: --max-age must be a whole number of seconds from 1 to 86400, got 0$/],
    ['a bad origin', () => ['--keys', keysFile, '--origin', 'api.example.com'], /^ipstamp serve: --origin: each must be an http\(s\) origin/],
    ['a bad header name', () => ['--keys', keysFile, '--forwarded-header', 'x forwarded'], /^ipstamp serve: --forwarded-header must be an HTTP header name$/],
  ];
  for (const [what, args, message] of spawned) {
    it(what, async () => {
      const result = await runCli(['serve', ...args()]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr.trimEnd()).toMatch(message);
    });
  }

  // in-process: the same UsageError that main.ts turns into that line
  const checked: [string, () => string[], RegExp][] = [
    ['a flag without its value', () => ['--keys'], /^Option '--keys <value>' argument missing$/],
    ['no --keys', () => ['--port', '0'], /^--keys FILE \(a JWK Set\) is required unless --keys-url or --issuers is given$/],
    [
      'a keys file that is not JSON',
      () => ['--keys', scratch.file('bad.json', '{"keys": [')],
      /^--keys .*bad\.json: not a JSON object, or a member name is repeated$/,
    ],
    [
      'a keys file that is not a JWK Set',
      () => ['--keys', scratch.file('obj.json', { kty: 'oct' })],
      /: holds one secret JWK, where a JWK Set belongs: \{"keys": \[ \.\.\. \]\}$/,
    ],
    ['an empty JWK Set', () => ['--keys', scratch.file('empty.json', { keys: [] })], /: the JWK Set holds no keys$/],
    ['a bad port', () => ['--keys', keysFile, '--port', '70000'], /^--port must be a whole number from 0 to 65535, got 70000$/],
    ['a bad CIDR', () => ['--keys', keysFile, '--trusted-proxies', '10.0.0.0/99'], /^--trusted-proxies: invalid CIDR prefix in "10\.0\.0\.0\/99"$/],
    ['an upstream with a query', () => ['--keys', keysFile, '--upstream', 'http://127.0.0.1:1/api?x=1'], /^--upstream must be an http\(s\) URL/],
    ['an upstream with credentials', () => ['--keys', keysFile, '--upstream', 'http://user:pw@127.0.0.1:1/'], /^--upstream must be an http\(s\) URL/],
    ['an upstream timeout without an upstream', () => ['--keys', keysFile, '--upstream-timeout', '5'], /^--upstream-timeout goes with --upstream/],
    ['--proxy-protocol without trusted proxies', () => ['--keys', keysFile, '--proxy-protocol'], /^--proxy-protocol needs --trusted-proxies/],
  ];
  for (const [what, args, message] of checked) {
    it(what, () => {
      expect(() => readServeConfig(args())).toThrow(UsageError);
      expect(() => readServeConfig(args())).toThrow(message);
    });
  }

  it('an unknown replay store', () => {
    expect(() => openReplayStore('disk')).toThrow(
      new UsageError(
        '--replay-store must be memory, redis://HOST:PORT[/DB], redis+sentinel://HOST:PORT,HOST:PORT/NAME[/DB] or redis+cluster://HOST:PORT,HOST:PORT',
      ),
    );
  });
});
