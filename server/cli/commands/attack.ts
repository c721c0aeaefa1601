import { readFile, writeFile } from 'node:fs/promises';
import {
  ATTACK_CATALOG,
  AttackSetupError,
  createTextReport,
  formatReportMarkdown,
  runAttacks,
  TICKET_ATTACK_CATALOG,
  type AttackReport,
} from '../../attack/index.js';
import { parseFlags } from '../parse-flags.js';
import { UsageError } from '../usage-error.js';

export const usage = `Usage: ipstamp attack --target URL --key CLIENT_JWK_FILE [options]
       ipstamp attack --target URL --issuer URL [options]   (ticket attacks only)

Runs the replay/forgery catalog against a live verifier, speaking only the wire protocol.
The target URL must require a stamp and answer GET and POST, or name the route's method
with --method; the key is a private JWK (or oct) the target trusts. The target should run
with onMismatch: 'reject' for the ip attacks.
When the target issues tickets (it publishes /.well-known/ipstamp/issuer-jwks) or --issuer
names the issuer it trusts, the ticket attacks (PROTOCOL §7) run too, with keys the harness
makes itself: tickets need no registration, so without --key they run alone.

Options:
  --target URL          the route under attack (e.g. http://127.0.0.1:8080/orders)
  --method M            the route's method: every attack and control uses it; POST, PUT
                        and PATCH carry a small JSON body every stamp digests (cdg)
                        (default: GET, and POST for the body-digest attacks)
  --path /P             the route's path on the target's origin (replaces the URL's path)
  --key FILE            the client key: a private JWK (EC/OKP) or an oct JWK, with kid and alg
  --ip ADDR             the address the target sees for this machine
                        (default: ask GET <origin>/.well-known/ipstamp)
  --only NAME,...       run only these attacks (--list shows the names)
  --json                print the results as JSON instead of text
  --report FILE.md      also write a Markdown report
  --timeout MS          per request (default 3000)
  --race N              copies of one stamp sent at once by replay-race (default 8)
  --local-address ADDR  connect from this local address
  --ca FILE             trust this CA certificate (PEM) for an https target
  --issuer URL          the ticket issuer the target trusts: its origin or ticket endpoint
                        (default: the target itself, when it issues tickets)
  --proxy-address ADDR  a local address the issuer trusts as a proxy (without the PROXY
                        protocol): enables the attacks that must get 403 ip-unverifiable
  --skew S              the target's clock-skew tolerance (default 5): the expired-ticket
                        attack waits this long past the ticket's exp
  --ticket-wait S       longest wait for a ticket to expire (default 15); an issuer whose
                        tickets live longer skips the expired-ticket attack
  --list                print the attack names and exit

Exit status:
  0  SAFE: every attack was rejected and every legitimate request accepted
  1  UNSAFE: an attack was accepted while the legitimate requests of its kind
     (stamp or ticket controls) were accepted
  2  INCONCLUSIVE: a legitimate request was refused (a control, or the original a
     replay needs: check the route, the key, --ip), an attack could not run, the
     issuer's rate limit had no room for the ticket attacks, the target cannot be
     reached, or the key cannot be used; the report says which
`;

const FLAGS = {
  target: { type: 'string' },
  method: { type: 'string' },
  path: { type: 'string' },
  key: { type: 'string' },
  ip: { type: 'string' },
  only: { type: 'string' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  timeout: { type: 'string' },
  race: { type: 'string' },
  'local-address': { type: 'string' },
  ca: { type: 'string' },
  issuer: { type: 'string' },
  'proxy-address': { type: 'string' },
  skew: { type: 'string' },
  'ticket-wait': { type: 'string' },
  list: { type: 'boolean' },
} as const;

function integerFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

async function readKeyFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new AttackSetupError('key-unusable', 'cannot read the key file');
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AttackSetupError('key-unusable', 'the key file is not JSON');
  }
}

async function readCaFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new UsageError('--ca: cannot read the certificate file');
  }
}

/** A progress line on a terminal only, so piped output stays one line per attack. */
function progress(): { show(text: string): void; clear(): void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    show(text) {
      if (!tty) return;
      process.stderr.write(`\r\x1b[2K${text}`);
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS);
  const catalog = [...ATTACK_CATALOG, ...TICKET_ATTACK_CATALOG];
  if (values.list === true) {
    const width = Math.max(...catalog.map((a) => a.name.length));
    for (const a of catalog) process.stdout.write(`${a.name.padEnd(width)}  ${a.description}\n`);
    return 0;
  }
  const target = values.target as string | undefined;
  const keyPath = values.key as string | undefined;
  if (target === undefined) throw new UsageError('--target URL is required');
  const issuer = values.issuer as string | undefined;
  if (keyPath === undefined && issuer === undefined) throw new UsageError('--key FILE is required (or --issuer URL for the ticket attacks alone)');
  const json = values.json === true;
  const only =
    typeof values.only === 'string'
      ? values.only
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : undefined;
  const timeoutMs = integerFlag('timeout', values.timeout as string | undefined, 50, 60_000);
  const raceCopies = integerFlag('race', values.race as string | undefined, 2, 64);
  const skew = integerFlag('skew', values.skew as string | undefined, 0, 86_400);
  const ticketWait = integerFlag('ticket-wait', values['ticket-wait'] as string | undefined, 0, 900);
  const attacks = only === undefined ? catalog : catalog.filter((a) => only.includes(a.name));
  const text = createTextReport(attacks);
  const line = progress();

  let report: AttackReport;
  try {
    const key = keyPath === undefined ? undefined : await readKeyFile(keyPath);
    const ca = typeof values.ca === 'string' ? await readCaFile(values.ca) : undefined;
    report = await runAttacks({
      target,
      ...(values.method === undefined ? {} : { method: values.method as string }),
      ...(values.path === undefined ? {} : { path: values.path as string }),
      ...(key === undefined ? {} : { key }),
      ...(issuer === undefined ? {} : { issuer }),
      ...(values['proxy-address'] === undefined ? {} : { proxyAddress: values['proxy-address'] as string }),
      ...(skew === undefined ? {} : { skew }),
      ...(ticketWait === undefined ? {} : { ticketWaitMs: ticketWait * 1000 }),
      ...(values.ip === undefined ? {} : { ip: values.ip as string }),
      ...(only === undefined ? {} : { only }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(raceCopies === undefined ? {} : { raceCopies }),
      ...(values['local-address'] === undefined ? {} : { localAddress: values['local-address'] as string }),
      ...(ca === undefined ? {} : { ca }),
      onReady(info) {
        if (!json) process.stdout.write(`${text.intro(info)}\n\n${text.header()}\n`);
      },
      onStart(attack, index, total) {
        line.show(`[${index + 1}/${total}] ${attack.name}…`);
      },
      onResult(result) {
        line.clear();
        if (!json) process.stdout.write(`${text.line(result)}\n`);
      },
    });
  } catch (error) {
    line.clear();
    if (error instanceof AttackSetupError) {
      process.stderr.write(`ipstamp attack: ${error.message}\n`);
      return 2;
    }
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }

  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(`${text.outro(report)}\n`);
  }
  if (typeof values.report === 'string') {
    try {
      await writeFile(values.report, formatReportMarkdown(report));
    } catch {
      process.stderr.write('ipstamp attack: cannot write the report file\n');
      return 2;
    }
    if (!json) process.stdout.write(`report written to ${values.report}\n`);
  }
  return report.exitCode;
}
