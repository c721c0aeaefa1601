import { afterAll, describe, expect, it } from 'vitest';
import { readServeConfig, type ServeConfig } from '../../server/cli/serve-config.js';
import { SERVE_FLAG_TABLE } from '../../server/cli/serve-flags.js';
import { scratchDir } from '../support/cli-process.js';
import { usageError } from '../support/usage-error.js';

/**
 * `readServeConfig`, the flags of `ipstamp serve` / `gateway` read in process: what serve runs
 * with when a flag is absent, the bounds of the CLI's own numbers, and the flags refused
 * because they mean nothing without another one. Each refusal is the UsageError main.ts
 * prints as one line, exit 2.
 */
const scratch = scratchDir();
afterAll(() => scratch.cleanup());
const keysFile = scratch.file('keys.json', { keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'h', alg: 'HS256' }] });
const KEYS = ['--keys', keysFile];
const UPSTREAM = ['--upstream', 'http://127.0.0.1:9'];

describe('what serve runs with when a flag is absent', () => {
  it('loopback only, port 8080, this process for used stamps, 1 MiB bodies, 30 s to arrive, 60 s for the upstream, info log', () => {
    const config = readServeConfig([...KEYS, ...UPSTREAM]);
    expect({
      host: config.host,
      port: config.port,
      replayStore: config.replayStore,
      storeTimeoutMs: config.storeTimeoutMs,
      storeReplicas: config.storeReplicas,
      bodyLimit: config.bodyLimit,
      requestTimeoutMs: config.requestTimeoutMs,
      upstreamTimeoutMs: config.upstreamTimeoutMs,
      logLevel: config.logLevel,
      trustedRanges: config.trustedRanges,
      proxyProtocol: config.proxyProtocol,
      telemetry: config.telemetry,
      cors: config.cors,
    }).toEqual({
      host: '127.0.0.1',
      port: 8080,
      replayStore: 'memory',
      // the store's own default (200 ms for Redis)
      storeTimeoutMs: undefined,
      storeReplicas: 0,
      bodyLimit: 1_048_576,
      requestTimeoutMs: 30_000,
      upstreamTimeoutMs: 60_000,
      logLevel: 'info',
      trustedRanges: [],
      proxyProtocol: false,
      telemetry: false,
      cors: { origins: [] },
    });
  });

  it('the verifier gets its keys and no Prometheus route, and nothing else: every policy is the library default (strict)', () => {
    const { verifier } = readServeConfig(KEYS);
    expect(Object.keys(verifier).sort()).toEqual(['keys', 'metrics']);
    expect(verifier.metrics).toBe(false);
  });
});

/**
 * The CLI checks its own numbers (the library checks the rest). The bounds are the contract:
 * a 0 s upstream timeout would switch undici's timeouts off (wait for ever), a 0 s request
 * timeout Node's, and a body limit over 1 GiB is memory a client may pin per request.
 */
const OWN_NUMBERS: Readonly<Record<string, { bounds: [min: number, max: number]; read: (c: ServeConfig) => unknown; scale?: number; with?: string[] }>> = {
  port: { bounds: [0, 65_535], read: (c) => c.port },
  'store-replicas': { bounds: [0, 100], read: (c) => c.storeReplicas },
  'store-timeout': { bounds: [1, 60_000], read: (c) => c.storeTimeoutMs },
  'upstream-timeout': { bounds: [1, 3600], read: (c) => c.upstreamTimeoutMs, scale: 1000, with: UPSTREAM },
  'body-limit': { bounds: [0, 1_073_741_824], read: (c) => c.bodyLimit },
  'request-timeout': { bounds: [1, 3600], read: (c) => c.requestTimeoutMs, scale: 1000 },
};

describe("the CLI's own numbers: each bound taken, one past it refused", () => {
  it('covers every flag the table gives a range', () => {
    expect(Object.keys(OWN_NUMBERS).sort()).toEqual(
      SERVE_FLAG_TABLE.filter((f) => f.range !== undefined)
        .map((f) => f.name)
        .sort(),
    );
  });

  for (const [name, { bounds, read, scale = 1, with: extra = [] }] of Object.entries(OWN_NUMBERS)) {
    it(`--${name} from ${bounds[0]} to ${bounds[1]}`, () => {
      const config = (value: string) => readServeConfig([...KEYS, ...extra, `--${name}=${value}`]);
      for (const bound of bounds) expect(read(config(String(bound)))).toBe(bound * scale);
      const [min, max] = bounds;
      for (const outside of [String(min - 1), String(max + 1), '1.5', '30s', '0x10', '1e3', ' 1', '']) {
        expect(usageError(() => config(outside))).toMatch(new RegExp(`^--${name} must be a whole number from ${min} to ${max}, got `));
      }
    });
  }
});

describe('flags refused rather than ignored', () => {
  it('--log-level outside its words', () => {
    expect(usageError(() => readServeConfig([...KEYS, '--log-level', 'verbose']))).toBe(
      '--log-level must be one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(readServeConfig([...KEYS, '--log-level', 'silent']).logLevel).toBe('silent');
  });

  it('--issuer-origin, --ticket-lifetime and --ticket-rate-limit without --issuer-key (they would issue nothing)', () => {
    for (const flag of [
      ['--issuer-origin', 'https://edge.example'],
      ['--ticket-lifetime', '60'],
      ['--ticket-rate-limit', '0'],
    ]) {
      expect(usageError(() => readServeConfig([...KEYS, ...flag]))).toBe('--issuer-origin, --ticket-lifetime and --ticket-rate-limit go with --issuer-key');
    }
  });

  it('an argument that is not a flag (a forgotten --keys, a port without --port)', () => {
    expect(usageError(() => readServeConfig([...KEYS, '8080']))).toMatch(/^Unexpected argument '8080'/);
    expect(usageError(() => readServeConfig([keysFile]))).toMatch(/^Unexpected argument /);
  });

  it('an empty --keys is no keys file', () => {
    expect(usageError(() => readServeConfig(['--keys', '']))).toBe('--keys FILE (a JWK Set) is required unless --keys-url or --issuers is given');
  });

  it('--issuer-key alone is nothing to verify stamps against (docs/tickets.md: it does not count)', () => {
    expect(usageError(() => readServeConfig(['--issuer-key', keysFile]))).toBe('--keys FILE (a JWK Set) is required unless --keys-url or --issuers is given');
  });
});
