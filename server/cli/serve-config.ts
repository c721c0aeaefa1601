import { compileTrust } from '../hints/trust.js';
import type { IpStampPluginOptions } from '../fastify/options.js';
import type { CorsAnswerOptions } from './cors-answers.js';
import { choiceFlag, stringFlag, type FlagValues } from './flag-values.js';
import { loadIssuersFile } from './load-keys.js';
import { parseFlags } from './parse-flags.js';
import { issuerKeysFromFile, keysFromFile, keysFromUrl, NO_KEYS, type Reloadable, type ServeKeys } from './serve-keys.js';
import { appliedDefault, flagValue, optionErrorAsUsage, SERVE_FLAG_TABLE, SERVE_PARSE_OPTIONS, serveFlag, setOption } from './serve-flags.js';
import { parseUpstreamUrl, type UpstreamTarget } from './upstream-target.js';
import { UsageError } from './usage-error.js';

const LOG_LEVELS = serveFlag('log-level').value!.split('|') as readonly LogLevel[];
type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  /** The client keys (`--keys` or `--keys-url`): the verifier's `keys` option, reloaded on SIGHUP. */
  readonly keys: ServeKeys;
  /** `--issuer-key`, reloaded on SIGHUP too. */
  readonly issuerKeys: Reloadable | undefined;
  /**
   * The plugin's options as a library user writes them (minus the replay store, opened later),
   * unchecked: the plugin checks them when it is registered (serve.ts), and
   * `optionErrorAsUsage(error, flags)` names the flag of a refused one.
   */
  readonly verifier: Omit<IpStampPluginOptions, 'replayStore'>;
  /** The options of the CLI's own CORS answers (cors-answers.ts checks them). */
  readonly cors: CorsAnswerOptions;
  readonly trustedRanges: readonly string[];
  readonly proxyProtocol: boolean;
  readonly replayStore: string;
  readonly storeTimeoutMs: number | undefined;
  readonly storeReplicas: number | undefined;
  /** Issuers this verifier trusts for tickets (count, for the start line). */
  readonly issuerCount: number;
  /** Set when this instance is itself a ticket issuer. */
  readonly issuing: boolean;
  readonly upstream: UpstreamTarget | undefined;
  /** With --upstream: longest wait for the upstream (connect, response head, between body chunks). */
  readonly upstreamTimeoutMs: number;
  readonly bodyLimit: number;
  /** --request-timeout: longest a client may take to send a whole request (headers and body). */
  readonly requestTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** --telemetry: instrument the verifier through the OpenTelemetry SDK the process registered. */
  readonly telemetry: boolean;
  /** The flags as typed, to tell a library TypeError in the name of its flag. */
  readonly flags: FlagValues;
}

function upstreamTarget(raw: string | undefined): UpstreamTarget | undefined {
  if (raw === undefined) return undefined;
  const target = parseUpstreamUrl(raw);
  if (target === undefined) throw new UsageError('--upstream must be an http(s) URL such as http://127.0.0.1:3000 or http://127.0.0.1:3000/api (no query)');
  return target;
}

/** A CLI flag's value, or the table's default for it. */
function own<T>(values: FlagValues, name: string): T {
  const flag = serveFlag(name);
  return (flagValue(values, flag) ?? appliedDefault(flag)) as T;
}

/** Where a verifier's client keys may come from, named as `--help` names them (serve-flags.ts). */
const NO_KEYS_GIVEN = '--keys FILE (a JWK Set) is required unless --keys-url or --issuers is given';

/** The file flags, read with the CLI's checks (readable, a JSON object of the right kind); the library checks the keys in them. */
function readFiles(values: FlagValues) {
  const issuersFile = stringFlag(values, 'issuers');
  const issuers = issuersFile === undefined ? undefined : loadIssuersFile(issuersFile);
  const keysUrl = stringFlag(values, 'keys-url');
  if (keysUrl !== undefined && values.keys !== undefined) throw new UsageError('--keys and --keys-url: give one of them');
  const keysFile = stringFlag(values, 'keys');
  // a verifier that only takes tickets needs no key file of its own; the message names every way, as --help does
  if (issuers === undefined && keysUrl === undefined && (keysFile === undefined || keysFile === '')) throw new UsageError(NO_KEYS_GIVEN);
  const keys = keysUrl !== undefined ? keysFromUrl(keysUrl) : keysFile === undefined ? NO_KEYS : keysFromFile(keysFile);
  const issuerKeyFile = stringFlag(values, 'issuer-key');
  const issuerKey = issuerKeyFile === undefined ? undefined : issuerKeysFromFile(issuerKeyFile);
  return { keys, issuers, issuerKey };
}

/**
 * Reads the flags into the option objects a library user writes (each flag's row in
 * serve-flags.ts says where it goes). Checked here: what is the CLI's own — the files, where
 * to listen, the upstream, flags that need another flag — each failure a one-line UsageError
 * naming the flag (exit 2). The options are the library's to check (serve.ts).
 */
export function readServeConfig(argv: string[]): ServeConfig {
  const { values } = parseFlags(argv, SERVE_PARSE_OPTIONS);
  const files = readFiles(values);
  if (files.issuerKey === undefined && ['issuer-origin', 'ticket-lifetime', 'ticket-rate-limit'].some((name) => values[name] !== undefined)) {
    throw new UsageError('--issuer-origin, --ticket-lifetime and --ticket-rate-limit go with --issuer-key');
  }
  const options: Record<string, unknown> = {};
  for (const flag of SERVE_FLAG_TABLE) {
    if (flag.option === undefined || flag.kind === 'file') continue;
    const value = flagValue(values, flag);
    if (value !== undefined) setOption(options, flag.option, value);
  }
  // No Prometheus route unless a path is given: on a gateway's public port the counters would
  // tell anyone which forgeries are refused, and /metrics would shadow the upstream's own.
  if (options.metricsPath === false) delete options.metricsPath;
  options.metrics = options.metricsPath !== undefined;
  setOption(options, 'keys', files.keys.lookup);
  if (files.issuers !== undefined) setOption(options, 'issuers', files.issuers.issuers);
  if (files.issuerKey !== undefined) setOption(options, 'issuer.key', files.issuerKey.keys);
  const { cors, ...verifier } = options as Omit<IpStampPluginOptions, 'replayStore'> & { cors?: CorsAnswerOptions };

  let trustedRanges: readonly string[];
  try {
    // the PROXY layer's trust, compiled by the library as the verifier compiles it
    trustedRanges = compileTrust(verifier.trustedProxies).ranges;
  } catch (error) {
    throw optionErrorAsUsage(error, values) ?? error;
  }
  const proxyProtocol = values['proxy-protocol'] === true;
  if (proxyProtocol && trustedRanges.length === 0) {
    throw new UsageError('--proxy-protocol needs --trusted-proxies (the peers allowed to send a PROXY header)');
  }
  const upstream = upstreamTarget(stringFlag(values, 'upstream'));
  if (values['upstream-timeout'] !== undefined && upstream === undefined) throw new UsageError('--upstream-timeout goes with --upstream');
  // without an upstream serve's answer is the verdict: a refusal let through would tell less than the refusal itself
  if (values['report-only'] === true && upstream === undefined)
    throw new UsageError('--report-only goes with --upstream (without it, serve answers every refusal)');
  return {
    host: own(values, 'host'),
    port: own(values, 'port'),
    keys: files.keys,
    issuerKeys: files.issuerKey,
    issuerCount: files.issuers?.count ?? 0,
    issuing: files.issuerKey !== undefined,
    storeTimeoutMs: own(values, 'store-timeout'),
    storeReplicas: own(values, 'store-replicas'),
    verifier,
    cors: cors ?? { origins: [] },
    trustedRanges,
    proxyProtocol,
    replayStore: own(values, 'replay-store'),
    upstream,
    upstreamTimeoutMs: own<number>(values, 'upstream-timeout') * 1000,
    bodyLimit: own(values, 'body-limit'),
    requestTimeoutMs: own<number>(values, 'request-timeout') * 1000,
    logLevel: choiceFlag(values, 'log-level', LOG_LEVELS) ?? own(values, 'log-level'),
    telemetry: values.telemetry === true,
    flags: values,
  };
}
