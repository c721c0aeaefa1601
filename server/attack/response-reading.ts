import type { Outcome } from './types.js';

/** Bodies are read up to this much: enough for any problem+json or verdict, bounded for a hostile target. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A response body as text, read no further than MAX_BODY_BYTES. */
export async function readBoundedText(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= MAX_BODY_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function codeOf(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR_ABORTED') return code;
    if ((e as { name?: unknown }).name === 'TimeoutError' || (e as { name?: unknown }).name === 'AbortError') return 'ETIMEDOUT';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A failed exchange as an outcome: refused means unreachable; a reset, a close or garbage is `closed`. */
export function outcomeOfError(error: unknown): Outcome {
  const code = codeOf(error);
  if (code !== undefined && UNREACHABLE.has(code)) return { kind: 'unreachable', code };
  if (code !== undefined && TIMEOUT.has(code)) return { kind: 'timeout' };
  return { kind: 'closed' };
}

function lookup(body: Record<string, unknown>, key: string): unknown {
  if (key in body) return body[key];
  for (const wrapper of ['verdict', 'ipStamp', 'ipstamp']) {
    const inner = body[wrapper];
    if (typeof inner === 'object' && inner !== null && key in inner) return (inner as Record<string, unknown>)[key];
  }
  return undefined;
}

/**
 * The reason of a problem+json rejection (PROTOCOL.md §5: `reason`, or the `urn:ipstamp:` type)
 * and the agreement of an accepted verdict, when the body shows them.
 */
export function responseOutcome(status: number, bodyText: string): Outcome {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return { kind: 'response', status };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { kind: 'response', status };
  const record = body as Record<string, unknown>;
  const type = record.type;
  const reasonValue = record.reason ?? (typeof type === 'string' && type.startsWith('urn:ipstamp:') ? type.slice(12) : undefined);
  const reason = typeof reasonValue === 'string' && /^[a-z-]{1,40}$/.test(reasonValue) ? reasonValue : undefined;
  const agreementValue = status >= 200 && status < 300 ? lookup(record, 'agreement') : undefined;
  const agreement = agreementValue === 'match' || agreementValue === 'mismatch' || agreementValue === 'unverifiable' ? agreementValue : undefined;
  // only a ticket is worth naming: it says the address came from an issuer, not the client (§7.4)
  const ticket = status >= 200 && status < 300 && lookup(record, 'source') === 'ticket';
  return {
    kind: 'response',
    status,
    ...(reason === undefined || status < 400 ? {} : { reason }),
    ...(agreement === undefined ? {} : { agreement }),
    ...(ticket ? { source: 'ticket' as const } : {}),
  };
}
