import { REASON_STATUS } from '../../../shared/reasons.js';
import { escapeControls, printable } from '../../../shared/printable.js';
import { compileKeySource } from '../../verify/key-source.js';
import { nodePlatform } from '../../verify/node-platform.js';
import { integerFlag, stringFlag } from '../flag-values.js';
import { compiledFromFile, loadKeysFile } from '../load-keys.js';
import { parseFlags } from '../parse-flags.js';
import { inspectStamp, stampFromPaste, type StampInspection } from '../stamp-inspection.js';
import { UsageError } from '../usage-error.js';

export const usage = `Usage: ipstamp inspect TOKEN|- [--keys FILE] [--max-age S] [--skew S]

Decodes a Client-IP-Attestation stamp and explains it (TOKEN - reads it from stdin: the bare
stamp, its "Client-IP-Attestation: ..." line, or a block of request headers holding it): the JOSE header, each claim, times
relative to now. With --keys (the verifier's JWK Set) it also verifies the stamp offline and
lists every check of PROTOCOL §5 as pass, fail or skipped. Binding, replay and agreement need
the live request and are always skipped. Exit 0 when no check failed, 1 when one did.

  --keys FILE     the verifier's JWK Set
  --max-age S     the verifier's maxAge (default 30)
  --skew S        the verifier's skew (default 5)
`;

const FLAGS = {
  keys: { type: 'string' },
  'max-age': { type: 'string' },
  skew: { type: 'string' },
} as const;

const CLAIM_NOTES: Readonly<Record<string, string>> = {
  ip: 'the address the client says it has',
  jti: 'unique id: single use',
  htm: 'HTTP method it was made for',
  htu: 'URL (no query) it was made for',
  obs: 'how the client learned ip',
  cdg: 'SHA-256 of the request body: binds the body',
  tth: 'hash of the Client-IP-Ticket it rides with',
};

function relative(seconds: number, nowMs: number): string {
  const delta = Math.round(seconds - nowMs / 1000);
  const size = Math.abs(delta);
  const amount =
    size < 120
      ? `${size} s`
      : size < 7200
        ? `${Math.round(size / 60)} min`
        : size < 172_800
          ? `${Math.round(size / 3600)} h`
          : `${Math.round(size / 86_400)} days`;
  return delta === 0 ? 'now' : delta < 0 ? `${amount} ago` : `in ${amount}`;
}

function describeValue(name: string, value: unknown, nowMs: number): string {
  // JSON.stringify escapes C0 controls; DEL, C1 and the format controls it leaves as they are
  const text = typeof value === 'string' ? printable(value) : escapeControls(String(JSON.stringify(value)));
  if ((name === 'iat' || name === 'exp') && typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < 1e11) {
    return `${text}  ${new Date(value * 1000).toISOString().replace('.000Z', 'Z')} (${relative(value, nowMs)})`;
  }
  // own names only: a claim called `constructor` or `toString` has no note, not Object.prototype's
  const note = Object.hasOwn(CLAIM_NOTES, name) ? CLAIM_NOTES[name] : undefined;
  return note ? `${text}  — ${note}` : text;
}

function section(title: string, members: Record<string, unknown> | undefined, nowMs: number, known?: readonly string[]): string[] {
  if (!members) return [];
  const names = Object.keys(members);
  const width = Math.max(3, ...names.map((n) => printable(n).length));
  const lines = [title];
  for (const name of names) {
    const unknown = known !== undefined && !known.includes(name) ? '  (unknown: ignored)' : '';
    lines.push(`  ${printable(name).padEnd(width)}  ${describeValue(name, members[name], nowMs)}${unknown}`);
  }
  return [...lines, ''];
}

const KNOWN_CLAIMS = ['ip', 'iat', 'exp', 'jti', 'htm', 'htu', 'obs', 'cdg', 'tth'];

export function formatInspection(report: StampInspection, nowMs: number, withKeys: boolean): string {
  const lines = [`Client-IP-Attestation stamp, ${report.bytes} bytes`, ''];
  lines.push(...section('Header', report.header, nowMs), ...section('Claims', report.claims, nowMs, KNOWN_CLAIMS));
  lines.push('Checks (PROTOCOL §5, in order)');
  for (const c of report.checks) {
    // a detail may quote the stamp (its alg, its htu): escaped like the values above
    const detail = c.detail === '' ? '' : `  ${escapeControls(c.detail)}`;
    lines.push(`  ${c.step.padStart(2)}  ${c.what.padEnd(30)} ${c.status.padEnd(7)} ${c.reason}${detail}`);
  }
  lines.push('');
  if (report.firstFailure) {
    lines.push(`Result: REJECTED — ${report.firstFailure} (HTTP ${REASON_STATUS[report.firstFailure]}), the first failing check`);
  } else if (withKeys) {
    lines.push('Result: passes every check that can run offline (binding, replay and agreement need the live request)');
  } else {
    lines.push('Result: decodes cleanly; signature not checked (no --keys)');
  }
  return `${lines.join('\n')}\n`;
}

/** Far more than any paste of request headers; a stamp itself is at most MAX_STAMP_BYTES. */
const STDIN_LIMIT = 1 << 20;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > STDIN_LIMIT) throw new UsageError(`stdin holds more than ${STDIN_LIMIT} bytes; paste the stamp or its header line`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS, true);
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'a TOKEN to inspect is required' : 'exactly one TOKEN, please');
  const given = positionals[0]!;
  if (given.trim() === '') throw new UsageError('a TOKEN to inspect is required');
  const pasted = stampFromPaste(given === '-' ? await readStdin() : given);
  if ('problem' in pasted) throw new UsageError(`${given === '-' ? 'stdin' : 'TOKEN'} ${pasted.problem}`);
  const { token } = pasted;
  const keysFile = stringFlag(values, 'keys');
  const keys = keysFile === undefined ? undefined : loadKeysFile(keysFile);
  // compiled once, by the verifier's own key source; its TypeError names the flag and file
  const keySource = keys && compiledFromFile('--keys', keysFile!, () => compileKeySource(keys.jwks, nodePlatform));
  const nowMs = Date.now();
  const report = await inspectStamp(token, {
    ...(keySource && { keySource, keysLabel: keysFile }),
    nowMs,
    maxAge: integerFlag(values, 'max-age', 1, 86_400) ?? 30,
    skew: integerFlag(values, 'skew', 0, 86_400) ?? 5,
  });
  process.stdout.write(formatInspection(report, nowMs, keys !== undefined));
  return report.firstFailure ? 1 : 0;
}
