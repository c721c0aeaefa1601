import type { ParseArgsConfig } from 'node:util';
import { integerFlag, listFlag, shownValue, type FlagValues } from './flag-values.js';
import { UsageError } from './usage-error.js';

/**
 * One row per flag of `ipstamp serve` / `gateway`: the usage text, the parser's options, the
 * defaults and the option each flag fills all come from here. A flag with an `option` fills
 * that path of the option object a library user passes (the Fastify plugin's options, or
 * `cors.origins` for the CLI's CORS answers); the library checks the value and its
 * TypeError is told back in the flag's name (`optionErrorAsUsage`). A flag without one is the
 * CLI's own (where to listen, the upstream, files) and is checked here.
 */
export interface ServeFlag {
  /** `max-age` for `--max-age`. */
  readonly name: string;
  /** What follows the flag in the usage text (`S`, `FILE`, `reject|flag`); none for a switch. */
  readonly value?: string;
  /**
   * - `text`: passed as typed (the library checks it);
   * - `number`: a whole number (as typed when it is not one, so the library names it);
   * - `list`: repeatable and comma-separated;
   * - `switch`: no value, true when given;
   * - `file`: a path; the CLI reads the file (serve-config.ts).
   */
  readonly kind: 'text' | 'number' | 'list' | 'switch' | 'file';
  /** Where the value goes: `maxAge`, `issuer.lifetime`, `cors.origins`. */
  readonly option?: string;
  /** Words of the flag that stand for another option value: `--proto-header none` is `protoHeader: false`. */
  readonly words?: Readonly<Record<string, unknown>>;
  /** Only for the CLI's own numbers: the range it accepts. */
  readonly range?: readonly [min: number, max: number];
  /**
   * The default. The CLI applies it to its own flags; for a library option it is what the
   * library picks when the option is absent (test/cli/serve-flags.test.ts holds them equal),
   * and the CLI leaves the option out. A string in parentheses is a description, never applied.
   */
  readonly default?: string | number;
  readonly help: string;
}

export const SERVE_FLAG_TABLE: readonly ServeFlag[] = [
  {
    name: 'keys',
    value: 'FILE',
    kind: 'file',
    option: 'keys',
    help: 'JWK Set of client keys (required unless --keys-url or --issuers is given); read again on SIGHUP',
  },
  {
    name: 'keys-url',
    value: 'URL',
    kind: 'text',
    help:
      'instead of --keys: fetch the client keys from this JWK Set URL (https, or http to loopback); refetched for an unknown kid ' +
      'at most every 30 s, refreshed every 10 min and on SIGHUP',
  },
  { name: 'host', value: 'HOST', kind: 'text', default: '127.0.0.1', help: 'address to listen on' },
  { name: 'port', value: 'PORT', kind: 'number', range: [0, 65_535], default: 8080, help: 'port; 0 = any free port, printed at start' },
  {
    name: 'trusted-proxies',
    value: 'CIDRS',
    kind: 'list',
    option: 'trustedProxies',
    help: 'your proxies: CIDRs or loopback/private/linklocal/uniquelocal, comma-separated or repeated',
  },
  {
    name: 'proxy-protocol',
    kind: 'switch',
    help: 'read a PROXY v1/v2 header from trusted proxies (they must send one); other peers are served plain HTTP',
  },
  {
    name: 'forwarded-header',
    value: 'NAME',
    kind: 'text',
    option: 'forwardedHeader',
    default: 'x-forwarded-for',
    help: 'the one forwarding header your proxies write',
  },
  {
    name: 'proto-header',
    value: 'x-forwarded-proto|forwarded|none',
    kind: 'text',
    option: 'protoHeader',
    words: { none: false },
    default: '(forwarded with --forwarded-header forwarded, else x-forwarded-proto)',
    help: "where your proxies write the client's scheme; none believes no header. A PROXY v2 SSL TLV comes first",
  },
  { name: 'max-age', value: 'S', kind: 'number', option: 'maxAge', default: 30, help: 'stamp lifetime in seconds' },
  { name: 'skew', value: 'S', kind: 'number', option: 'skew', default: 5, help: 'clock skew tolerated in seconds' },
  { name: 'on-mismatch', value: 'reject|flag', kind: 'text', option: 'onMismatch', default: 'reject', help: 'attested ip disagrees with the network' },
  { name: 'on-unverifiable', value: 'accept|reject', kind: 'text', option: 'onUnverifiable', default: 'reject', help: 'network cannot tell' },
  { name: 'require-body-digest', kind: 'switch', option: 'requireBodyDigest', help: 'refuse stamps without cdg' },
  {
    name: 'origin',
    value: 'URL',
    kind: 'list',
    option: 'origins',
    default: '(the Host header)',
    help: 'public origin(s) htu may name, comma-separated or repeated',
  },
  {
    name: 'replay-store',
    value: 'SPEC',
    kind: 'text',
    default: 'memory',
    help: 'where used stamps are remembered: memory, redis://HOST:PORT[/DB], redis+sentinel://HOST:PORT,HOST:PORT/NAME or redis+cluster://HOST:PORT,HOST:PORT, shared by every instance',
  },
  {
    name: 'store-replicas',
    value: 'N',
    kind: 'number',
    range: [0, 100],
    default: 0,
    help: 'Redis durability: WAIT for N replicas to hold each used stamp within --store-timeout, else 503 (0 = asynchronous replication)',
  },
  { name: 'store-timeout', value: 'MS', kind: 'number', range: [1, 60_000], default: '(200 for Redis)', help: 'longest wait for the replay store' },
  {
    name: 'on-store-error',
    value: 'reject|accept',
    kind: 'text',
    option: 'onStoreError',
    default: 'reject',
    help: 'replay store down: reject answers 503, accept lets stamps through UNCHECKED',
  },
  {
    name: 'report-only',
    kind: 'switch',
    option: 'reportOnly',
    help:
      'with --upstream: measure before enforcing. A refused request is forwarded too, without X-Attested-Client-IP and with ' +
      'X-Attested-Client-IP-Refusal: REASON (missing for no stamp); still counted and logged as refused',
  },
  {
    name: 'issuer-key',
    value: 'FILE',
    kind: 'file',
    option: 'issuer.key',
    help: 'also issue tickets (PROTOCOL §7), signed with this private ES256/EdDSA JWK; publishes /.well-known/ipstamp/issuer-jwks',
  },
  {
    name: 'issuer-origin',
    value: 'URL',
    kind: 'text',
    option: 'issuer.origin',
    default: "(the origin the client's proof was bound to)",
    help: 'the issuer origin: the iss written into tickets',
  },
  { name: 'ticket-lifetime', value: 'S', kind: 'number', option: 'issuer.lifetime', default: 300, help: 'ticket lifetime in seconds, at most 600' },
  {
    name: 'ticket-rate-limit',
    value: 'N',
    kind: 'number',
    option: 'issuer.rateLimit',
    words: { '0': false },
    default: 30,
    help: 'ticket requests per observed address per minute; 0 = off',
  },
  {
    name: 'issuers',
    value: 'FILE',
    kind: 'file',
    option: 'issuers',
    help: 'ticket issuers to trust: {"https://edge.example": <JWK Set> | "<jwks URL>"}',
  },
  {
    name: 'upstream',
    value: 'URL',
    kind: 'text',
    help: 'forward accepted requests to this http(s) URL; a path is a base (http://127.0.0.1:9000/api sends /x to /api/x)',
  },
  {
    name: 'upstream-timeout',
    value: 'S',
    kind: 'number',
    range: [1, 3600],
    default: 60,
    help: 'longest wait for the upstream to connect, answer, or send the next body chunk, else 504 upstream-timeout; and for a client to take the next chunk of its answer, else its connection is closed',
  },
  {
    name: 'cors-origin',
    value: 'URL',
    kind: 'list',
    option: 'cors.origins',
    help:
      'a page origin that may call from another origin (repeatable): serve answers CORS preflights itself and adds the CORS headers ' +
      'to every answer, refusals too. Preflights are never verified; without this flag, --upstream forwards them (no attested address)',
  },
  {
    name: 'body-limit',
    value: 'BYTES',
    kind: 'number',
    range: [0, 1 << 30],
    default: 1_048_576,
    help: 'largest body read (with --upstream only cdg bodies are read)',
  },
  // 30 s, not Node's 300 s: each request still arriving holds a connection and up to
  // --body-limit of memory, so this bounds what silent clients can pin (their rate × 30 s). It
  // lets a 1 MiB body (the default limit) through at ~35 KB/s, and a signed (cdg) body is checked
  // once it has arrived: one that takes longer than a stamp lives (--max-age 30 + --skew 5) is
  // refused as expired anyway, so the bound costs an honest signed request almost nothing.
  {
    name: 'request-timeout',
    value: 'S',
    kind: 'number',
    range: [1, 3600],
    default: 30,
    help: 'longest a client may take to send a whole request, headers and body, else 408 and the connection is closed (raise it for slow uploads through --upstream)',
  },
  {
    name: 'metrics-path',
    value: 'PATH',
    kind: 'text',
    option: 'metricsPath',
    words: { off: false },
    default: '(none)',
    help: 'serve the Prometheus counters at PATH, to anyone who reaches it: pick a path your edge does not route; off = none',
  },
  {
    name: 'telemetry',
    kind: 'switch',
    help: 'spans and metrics through OpenTelemetry, to the SDK the process registered (node --import ./otel.mjs); needs @opentelemetry/api',
  },
  { name: 'log-level', value: 'fatal|error|warn|info|debug|trace|silent', kind: 'text', default: 'info', help: 'what the log shows' },
];

const BY_NAME: ReadonlyMap<string, ServeFlag> = new Map(SERVE_FLAG_TABLE.map((f) => [f.name, f]));

/** The table as `node:util` parseArgs options. */
export const SERVE_PARSE_OPTIONS: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  SERVE_FLAG_TABLE.map((f) => [f.name, f.kind === 'switch' ? { type: 'boolean' } : { type: 'string', ...(f.kind === 'list' && { multiple: true }) }]),
);

const USAGE_WIDTH = 94;
const HELP_COLUMN = 30;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/** The option lines of `serve --help` (and `gateway --help`), one entry of the table each. */
export function serveOptionLines(): string {
  return SERVE_FLAG_TABLE.map((f) => {
    const left = `  --${f.name}${f.value === undefined ? '' : ` ${f.value}`}`;
    const described = typeof f.default === 'string' && f.default.startsWith('(');
    const shown = f.default === undefined ? '' : described ? ` (default: ${String(f.default).slice(1, -1)})` : ` (default ${f.default})`;
    const [first, ...rest] = wrap(`${f.help}${shown}`, USAGE_WIDTH - HELP_COLUMN);
    const head = left.length + 2 <= HELP_COLUMN ? `${left.padEnd(HELP_COLUMN)}${first}` : `${left}\n${' '.repeat(HELP_COLUMN)}${first}`;
    return [head, ...rest.map((l) => `${' '.repeat(HELP_COLUMN)}${l}`)].join('\n');
  }).join('\n');
}

export function serveFlag(name: string): ServeFlag {
  const flag = BY_NAME.get(name);
  if (flag === undefined) throw new Error(`no serve flag --${name}`);
  return flag;
}

/** A default the CLI applies itself (not a description in parentheses). */
export function appliedDefault(flag: ServeFlag): string | number | undefined {
  return typeof flag.default === 'string' && flag.default.startsWith('(') ? undefined : flag.default;
}

/** `--max-age 08` → 8; what is not a whole number is passed on as typed, for the library to name. */
function numberOf(raw: string): number | string {
  return /^-?\d{1,10}$/.test(raw) ? Number(raw) : raw;
}

/** The value a flag puts into its option (undefined when the flag is absent). File flags are read elsewhere. */
export function flagValue(values: FlagValues, flag: ServeFlag): unknown {
  const raw = values[flag.name];
  if (raw === undefined) return undefined;
  if (flag.kind === 'switch') return raw === true;
  if (flag.kind === 'list') return listFlag(values, flag.name);
  const text = String(raw);
  if (flag.words !== undefined && Object.hasOwn(flag.words, text)) return flag.words[text];
  if (flag.kind !== 'number') return text;
  return flag.range === undefined ? numberOf(text) : integerFlag(values, flag.name, ...flag.range);
}

/** Sets `path` (`issuer.lifetime`) in `target`, making the objects on the way. */
export function setOption(target: Record<string, unknown>, path: string, value: unknown): void {
  const names = path.split('.');
  let at = target;
  for (const name of names.slice(0, -1)) at = (at[name] ??= {}) as Record<string, unknown>;
  at[names.at(-1)!] = value;
}

/** The option a library TypeError names: its message starts with the option's path (`maxAge must…`, `keys.keys[0]: …`). */
function namedFlag(message: string): ServeFlag | undefined {
  let best: ServeFlag | undefined;
  for (const flag of SERVE_FLAG_TABLE) {
    if (flag.option === undefined || !message.startsWith(flag.option)) continue;
    const next = message.charAt(flag.option.length);
    if (next !== '' && !' :.['.includes(next)) continue;
    if (best === undefined || flag.option.length > best.option!.length) best = flag;
  }
  return best;
}

/**
 * A TypeError from the library, told in the name of the flag that set the option: `maxAge must
 * be …` → `--max-age must be …, got 0`; a file's `keys.keys[0]: …` → `--keys FILE: keys.keys[0]: …`;
 * a flag with words of its own lists them (`--proto-header must be one of …, none`).
 * Undefined for anything else (not a TypeError, or an option no flag sets).
 */
export function optionErrorAsUsage(error: unknown, values: FlagValues): UsageError | undefined {
  if (!(error instanceof TypeError)) return undefined;
  const flag = namedFlag(error.message);
  if (flag === undefined) return undefined;
  const raw = values[flag.name];
  if (flag.kind === 'file') return new UsageError(`--${flag.name} ${String(raw)}: ${error.message}`);
  if (flag.words !== undefined && flag.value?.includes('|') === true)
    return new UsageError(`--${flag.name} must be one of ${flag.value.split('|').join(', ')}`);
  let rest = error.message.slice(flag.option!.length);
  // `or false` is `or 0` on the command line
  for (const [word, value] of Object.entries(flag.words ?? {})) rest = rest.replace(new RegExp(`\\b${String(value)}\\b`, 'g'), word);
  const said = `--${flag.name}${rest}`;
  if (flag.kind === 'number' && typeof raw === 'string') return new UsageError(`${said}, got ${shownValue(raw)}`);
  return new UsageError(said);
}
