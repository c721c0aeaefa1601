import type { Reason } from '../../shared/reasons.js';
import {
  FORBIDDEN_HEADER_MEMBERS,
  kidSchema,
  MAX_STAMP_BYTES,
  STAMP_ALGS,
  stampClaimsSchema,
  stampHeaderSchema,
  STAMP_TYP,
  type StampClaims,
} from '../../shared/schema.js';
import { claimsBreakRules, freshnessFailure } from '../verify/claim-rules.js';
import { decodeJsonSegment, splitCompact, type CompactParts, compactHeaderValue } from '../jws/compact.js';
import type { KeyObject } from 'node:crypto';
import type { KeySource, VerifierKey } from '../verify/key-source.js';
import { verifySignature } from '../jws/signature.js';

export type CheckStatus = 'pass' | 'fail' | 'skipped';

/** One row of PROTOCOL.md §5 as `ipstamp inspect` explains it. */
export interface StampCheck {
  readonly step: string;
  readonly reason: Reason;
  readonly what: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface StampInspection {
  readonly bytes: number;
  readonly header?: Record<string, unknown>;
  readonly claims?: Record<string, unknown>;
  readonly checks: readonly StampCheck[];
  /** The reason the verifier would answer, as far as offline checks can tell. */
  readonly firstFailure?: Reason;
}

export interface InspectOptions {
  /** Without keys the signature and the key's allowed_ips are skipped. */
  readonly keySource?: KeySource<KeyObject>;
  readonly keysLabel?: string;
  readonly nowMs: number;
  readonly maxAge: number;
  readonly skew: number;
}

function headerProblems(header: Record<string, unknown>): string {
  const problems: string[] = [];
  if (!(STAMP_ALGS as readonly unknown[]).includes(header.alg)) problems.push(`alg ${JSON.stringify(header.alg)} is not one of ${STAMP_ALGS.join(', ')}`);
  if (header.typ !== STAMP_TYP) problems.push(`typ must be "${STAMP_TYP}"`);
  if (!kidSchema.safeParse(header.kid).success) problems.push('kid must be 1–128 characters of [A-Za-z0-9._:-]');
  const forbidden = FORBIDDEN_HEADER_MEMBERS.filter((m) => Object.hasOwn(header, m));
  if (forbidden.length > 0) problems.push(`forbidden member${forbidden.length > 1 ? 's' : ''} ${forbidden.join(', ')}`);
  return problems.join('; ');
}

function claimProblems(claims: Record<string, unknown>): string {
  const parsed = stampClaimsSchema.safeParse(claims);
  if (parsed.success) return '';
  const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '(object)')))];
  return `invalid or missing: ${names.join(', ')}`;
}

/**
 * Runs every §5 step a stamp alone allows, with the verifier's own pieces (compact split,
 * strict JSON, schemas, key source, signature, claim rules). Steps that need the live
 * request — binding, replay, agreement — are reported as skipped, never guessed.
 */
export async function inspectStamp(token: string, options: InspectOptions): Promise<StampInspection> {
  const checks: StampCheck[] = [];
  const add = (step: string, reason: Reason, what: string, status: CheckStatus, detail = ''): void => {
    checks.push({ step, reason, what, status, detail });
  };
  const bytes = Buffer.byteLength(token);
  add('1', 'missing', 'stamp present', 'pass');

  let parts: CompactParts | undefined;
  if (bytes > MAX_STAMP_BYTES) add('2', 'malformed', 'well-formed', 'fail', `${bytes} bytes, more than ${MAX_STAMP_BYTES}`);
  else if (compactHeaderValue(token) === undefined) add('2', 'malformed', 'well-formed', 'fail', 'a comma: two header instances joined');
  else if ((parts = splitCompact(token)) === undefined) add('2', 'malformed', 'well-formed', 'fail', 'not three base64url segments');
  else add('2', 'malformed', 'well-formed', 'pass', `${bytes} bytes, three base64url segments`);

  const header = parts && decodeJsonSegment(parts.headerSegment);
  const headerOk = header !== undefined && stampHeaderSchema.safeParse(header).success;
  if (!parts) add('3', 'bad-header', 'JOSE header', 'skipped', 'needs step 2');
  else if (!header) add('3', 'bad-header', 'JOSE header', 'fail', 'not a JSON object (or invalid UTF-8, or a repeated member)');
  else add('3', 'bad-header', 'JOSE header', headerOk ? 'pass' : 'fail', headerOk ? '' : headerProblems(header));

  let key: VerifierKey<KeyObject> | undefined;
  const kid = headerOk ? String(header!.kid) : undefined;
  if (!options.keySource) add('4', 'unknown-key', 'key known', 'skipped', 'no --keys');
  else if (kid === undefined) add('4', 'unknown-key', 'key known', 'skipped', 'needs step 3');
  else {
    key = await options.keySource(kid);
    add(
      '4',
      'unknown-key',
      'key known',
      key ? 'pass' : 'fail',
      key ? `kid "${kid}" (${key.alg}) in ${options.keysLabel}` : `no kid "${kid}" in ${options.keysLabel}`,
    );
  }

  if (!key || !parts) add('5', 'bad-signature', 'signature', 'skipped', options.keySource ? 'needs step 4' : 'no --keys');
  else if (key.alg !== header!.alg) add('5', 'bad-signature', 'signature', 'fail', `token says alg ${String(header!.alg)}, the key is pinned to ${key.alg}`);
  else {
    const valid = verifySignature(key.alg, key.keyObject, parts.signingInput, parts.signature);
    add('5', 'bad-signature', 'signature', valid ? 'pass' : 'fail', valid ? `${key.alg}` : 'does not verify with that key');
  }

  const claims = parts && decodeJsonSegment(parts.payloadSegment);
  let valid: StampClaims | undefined;
  if (!parts) add('6', 'bad-claims', 'claims', 'skipped', 'needs step 2');
  else if (!claims) add('6', 'bad-claims', 'claims', 'fail', 'not a JSON object (or invalid UTF-8, or a repeated member)');
  else {
    const problems = claimProblems(claims);
    const parsed = problems === '' ? stampClaimsSchema.parse(claims) : undefined;
    if (parsed && claimsBreakRules(parsed, options.maxAge)) {
      add(
        '6',
        'bad-claims',
        'claims',
        'fail',
        parsed.tth !== undefined ? 'tth belongs to stamps that carry a ticket' : `exp must be after iat and at most iat + ${options.maxAge}`,
      );
    } else if (parsed) {
      valid = parsed;
      add('6', 'bad-claims', 'claims', 'pass');
    } else add('6', 'bad-claims', 'claims', 'fail', problems);
  }

  const fresh = valid && freshnessFailure(valid, options.nowMs, options);
  const window = `maxAge ${options.maxAge} s, skew ${options.skew} s`;
  if (!valid) {
    add('7', 'not-yet-valid', 'issued in the past', 'skipped', 'needs step 6');
    add('8', 'expired', 'not expired', 'skipped', 'needs step 6');
  } else {
    add('7', 'not-yet-valid', 'issued in the past', fresh === 'not-yet-valid' ? 'fail' : 'pass', window);
    add('8', 'expired', 'not expired', fresh === 'expired' ? 'fail' : fresh === 'not-yet-valid' ? 'skipped' : 'pass', window);
  }

  const binding = valid ? `htm ${valid.htm}, htu ${valid.htu}${valid.cdg ? ', and the body (cdg)' : ''}` : 'htm, htu';
  add('9', 'binding-mismatch', 'bound to the request', 'skipped', `needs the request: ${binding}`);
  add('10', 'replay', 'single use', 'skipped', 'offline: no replay store (taken as never seen)');
  if (!key || !valid)
    add('11', 'ip-not-allowed', "inside the key's allowed_ips", 'skipped', key ? 'needs step 6' : options.keySource ? 'needs step 4' : 'no --keys');
  else if (!key.allowedIps) add('11', 'ip-not-allowed', "inside the key's allowed_ips", 'pass', 'the key has no allowed_ips');
  else {
    const inside = key.allowedIps.contains(valid.ip);
    add(
      '11',
      'ip-not-allowed',
      "inside the key's allowed_ips",
      inside ? 'pass' : 'fail',
      `${valid.ip} ${inside ? 'in' : 'not in'} ${key.allowedIps.ranges.join(', ')}`,
    );
  }
  add('12', 'ip-mismatch', 'agrees with the network', 'skipped', 'needs the connection (l3, PROXY header, forwarding header)');

  const firstFailure = checks.find((c) => c.status === 'fail')?.reason;
  return { bytes, ...(header && { header }), ...(claims && { claims }), checks, ...(firstFailure && { firstFailure }) };
}

const HEADER_LINE = /^client-ip-attestation[ \t]*:/i;

/**
 * The stamp in what a user pasted: the bare token, or a `Client-IP-Attestation: …` line (the
 * name in any case), or a block of request headers holding exactly one such line. Surrounding
 * whitespace is dropped. Anything else is a problem in words, never a throw.
 */
export function stampFromPaste(text: string): { token: string } | { problem: string } {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const stampLines = lines.filter((l) => HEADER_LINE.test(l));
  if (stampLines.length > 1) return { problem: `holds ${stampLines.length} Client-IP-Attestation lines; paste one` };
  const line = stampLines[0] ?? (lines.length === 1 ? lines[0] : undefined);
  if (line === undefined) {
    return {
      problem:
        lines.length === 0 ? 'held no TOKEN (paste the stamp, or its Client-IP-Attestation: line)' : 'holds several lines and no Client-IP-Attestation: line',
    };
  }
  const token = line.replace(HEADER_LINE, '').trim();
  return token === '' ? { problem: 'held no TOKEN (paste the stamp, or its Client-IP-Attestation: line)' } : { token };
}
