import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCorsAnswers } from '../../server/cli/cors-answers.js';
import { shownValue } from '../../server/cli/flag-values.js';
import { readServeConfig } from '../../server/cli/serve-config.js';
import { optionErrorAsUsage, SERVE_FLAG_TABLE, serveOptionLines } from '../../server/cli/serve-flags.js';
import { UsageError } from '../../server/cli/usage-error.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { compileOptions } from '../../server/verify/options.js';
import { runCli, scratchDir } from '../support/cli-process.js';
import { nodePlatform } from '../../server/verify/node-platform.js';

const scratch = scratchDir();
afterAll(() => scratch.cleanup());
const keysFile = scratch.file('keys.json', { keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'h', alg: 'HS256' }] });
const issuerJwk = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };
const issuerKeyFile = scratch.file('issuer.json', issuerJwk);

/**
 * Builds what `ipstamp serve` builds before it listens — the config, the CORS answers, the
 * plugin — and answers the one line a refusal prints (or `accepted`). The checks are the
 * library's; the flag's name comes from optionErrorAsUsage, as in serve.ts.
 */
async function refusal(args: string[]): Promise<string> {
  let config;
  try {
    config = readServeConfig(args);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  const app = Fastify();
  try {
    registerCorsAnswers(app, config.cors);
    await app.register(ipstamp, { ...config.verifier });
    await app.ready();
    return 'accepted';
  } catch (error) {
    const usage = optionErrorAsUsage(error, config.flags);
    if (usage === undefined) throw error;
    return usage.message;
  } finally {
    await app.close();
  }
}

/** For every flag that fills a library option: a value the library refuses, and what the user reads. */
const REFUSED: Readonly<Record<string, [args: string[], line: RegExp]>> = {
  keys: [
    ['--keys', scratch.file('short.json', { keys: [{ kty: 'oct', k: 'c2hvcnQ', kid: 'k', alg: 'HS256' }] })],
    /^--keys \S+short\.json: keys\.keys\[0\]: HMAC secret/,
  ],
  'trusted-proxies': [['--trusted-proxies', '10.0.0.0/99'], /^--trusted-proxies: invalid CIDR prefix in "10\.0\.0\.0\/99"$/],
  'forwarded-header': [['--forwarded-header', 'x forwarded'], /^--forwarded-header must be an HTTP header name$/],
  'proto-header': [['--proto-header', 'x-real-ip'], /^--proto-header must be one of x-forwarded-proto, forwarded, none$/],
  'max-age': [['--max-age', '0'], /^--max-age must be a whole number of seconds from 1 to 86400, got 0$/],
  skew: [['--skew', '-1'], /^--skew must be a whole number of seconds from 0 to 86400, got -1$/],
  'on-mismatch': [['--on-mismatch', 'ignore'], /^--on-mismatch must be one of reject, flag$/],
  'on-unverifiable': [['--on-unverifiable', 'maybe'], /^--on-unverifiable must be one of accept, reject$/],
  origin: [['--origin', 'api.example.com'], /^--origin: each must be an http\(s\) origin/],
  'on-store-error': [['--on-store-error', 'retry'], /^--on-store-error must be one of reject, accept$/],
  'issuer-key': [
    ['--issuer-key', scratch.file('bad-kid.json', { ...issuerJwk, kid: 'has space' })],
    /^--issuer-key \S+bad-kid\.json: issuer\.key\.kid must be/,
  ],
  'issuer-origin': [['--issuer-key', issuerKeyFile, '--issuer-origin', 'edge.example'], /^--issuer-origin must be an http\(s\) origin/],
  'ticket-lifetime': [
    ['--issuer-key', issuerKeyFile, '--ticket-lifetime', '601'],
    /^--ticket-lifetime must be a whole number of seconds from 1 to 600, got 601$/,
  ],
  'ticket-rate-limit': [
    ['--issuer-key', issuerKeyFile, '--ticket-rate-limit', '-1'],
    /^--ticket-rate-limit must be a positive whole number of requests per minute, or 0, got -1$/,
  ],
  issuers: [
    ['--issuers', scratch.file('issuers.json', { 'edge.example': { keys: [] } })],
    /^--issuers \S+issuers\.json: issuers: "edge\.example" must be a normalized origin/,
  ],
  'cors-origin': [['--cors-origin', 'https://app.example/path'], /^--cors-origin must hold http\(s\) origins/],
  'metrics-path': [['--metrics-path', 'metrics'], /^--metrics-path must be a path such as '\/metrics'/],
};

describe('one table: the flags of serve and gateway', () => {
  it('every flag of the table is in serve --help and gateway --help, with its value name', async () => {
    const serve = await runCli(['serve', '--help']);
    const gateway = await runCli(['gateway', '--help']);
    for (const flag of SERVE_FLAG_TABLE) {
      const shown = `--${flag.name}${flag.value === undefined ? '' : ` ${flag.value}`}`;
      expect(serve.stdout).toContain(`  ${shown}`);
      expect(gateway.stdout).toContain(`  ${shown}`);
    }
    // and nothing else: every flag a help text names is one the parser takes
    const named = new Set([...serveOptionLines().matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]));
    expect([...named].sort()).toEqual(SERVE_FLAG_TABLE.map((f) => f.name).sort());
  });

  it('every flag of the table is documented (README.md or docs/)', () => {
    const root = resolve(import.meta.dirname, '../..');
    const docs = [
      join(root, 'README.md'),
      ...readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(root, 'docs', f)),
    ];
    const text = docs.map((f) => readFileSync(f, 'utf8')).join('\n');
    const missing = SERVE_FLAG_TABLE.filter((f) => !text.includes(`\`--${f.name}`)).map((f) => f.name);
    expect(missing).toEqual([]);
  });

  it("the defaults shown for library options are the library's own", () => {
    const compiled = compileOptions({ keys: { keys: [] }, replayStore: new MemoryReplayStore() }, nodePlatform);
    const picked: Record<string, unknown> = {
      maxAge: compiled.maxAge,
      skew: compiled.skew,
      onMismatch: compiled.onMismatch,
      onUnverifiable: compiled.onUnverifiable,
      onStoreError: compiled.onStoreError,
      forwardedHeader: compiled.forwardedHeader.headerName,
    };
    for (const [option, value] of Object.entries(picked)) {
      const flag = SERVE_FLAG_TABLE.find((f) => f.option === option);
      expect([option, flag?.default]).toEqual([option, value]);
    }
  });
});

describe('options checked once, by the library, told in the flag’s name', () => {
  it('every flag that fills a library option has a refusal case below', () => {
    const checkable = SERVE_FLAG_TABLE.filter((f) => f.option !== undefined && f.kind !== 'switch').map((f) => f.name);
    expect(Object.keys(REFUSED).sort()).toEqual(checkable.sort());
  });

  it('good values pass the same path', async () => {
    const good = ['--keys', keysFile, '--trusted-proxies', 'loopback', '--proto-header', 'none', '--max-age', '60', '--origin', 'https://api.example.com'];
    const issuing = ['--issuer-key', issuerKeyFile, '--issuer-origin', 'https://edge.example.com', '--ticket-lifetime', '600', '--ticket-rate-limit', '0'];
    expect(await refusal([...good, ...issuing, '--cors-origin', 'https://app.example.com'])).toBe('accepted');
  });

  it('a number flag of the library takes whole numbers only, as typed: 30s, 1.5, 0x1e, 1e3 are refused, naming the flag and the value', async () => {
    const issuing = ['--issuer-key', issuerKeyFile];
    const numbers = SERVE_FLAG_TABLE.filter((f) => f.kind === 'number' && f.option !== undefined);
    expect(numbers.map((f) => f.name).sort()).toEqual(['max-age', 'skew', 'ticket-lifetime', 'ticket-rate-limit']);
    for (const flag of numbers) {
      for (const typed of ['30s', '1.5', '0x1e', '1e3', '20 ']) {
        const line = await refusal(['--keys', keysFile, ...(flag.option!.startsWith('issuer.') ? issuing : []), `--${flag.name}=${typed}`]);
        expect(line.startsWith(`--${flag.name} must be `), line).toBe(true);
        expect(line.endsWith(`, got ${shownValue(typed)}`), line).toBe(true);
      }
    }
  });

  for (const [flag, [args, line]] of Object.entries(REFUSED)) {
    it(`--${flag}`, async () => {
      const withKeys = args.includes('--keys') || args.includes('--issuers') ? args : ['--keys', keysFile, ...args];
      expect(await refusal(withKeys)).toMatch(line);
    });
  }
});
