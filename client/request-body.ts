import { IpStampClientError } from './client-error.js';

/** What the fetch wrapper knows of a body before sending it. */
export interface PreparedBody {
  /** The exact bytes on the wire, when a digest was asked for. */
  bytes?: Uint8Array;
  /** Send this instead of the caller's body (bytes read from a Request, a serialized FormData, a copy of a buffer). */
  replacement?: { body: Uint8Array; contentType: string | null };
  /** Can the same request be sent again (after an address refresh)? Streams cannot. */
  replayable: boolean;
}

const encoder = new TextEncoder();

const FORM_URLENCODED = 'application/x-www-form-urlencoded;charset=UTF-8';

/**
 * The bytes of a body the caller can still change after the call, copied when the call is
 * made, as fetch copies them (Fetch standard, "extract a body"): a BufferSource (a view
 * shares its buffer) and URLSearchParams, with the Content-Type fetch would give them. This
 * copy is digested and sent, every time the request is sent.
 */
function snapshot(body: unknown): PreparedBody['replacement'] {
  if (body instanceof ArrayBuffer) return { body: new Uint8Array(body.slice(0)), contentType: null };
  if (ArrayBuffer.isView(body)) return { body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice(), contentType: null };
  if (body instanceof URLSearchParams) return { body: encoder.encode(body.toString()), contentType: FORM_URLENCODED };
  return undefined;
}

/**
 * Bytes of the body forms whose serialization fetch fixes in advance (Fetch standard,
 * "extract a body"): strings as UTF-8, Blobs as their content (buffers and URLSearchParams
 * are copied by `snapshot` first). FormData gets a boundary chosen at send time, so it is
 * serialized here once and those bytes are what is sent.
 */
async function initBodyBytes(body: unknown): Promise<PreparedBody | undefined> {
  if (body === undefined || body === null) return { bytes: new Uint8Array(0), replayable: true };
  if (typeof body === 'string') return { bytes: encoder.encode(body), replayable: true };
  if (typeof Blob !== 'undefined' && body instanceof Blob) return { bytes: new Uint8Array(await body.arrayBuffer()), replayable: true };
  if (typeof FormData !== 'undefined' && body instanceof FormData) {
    const serialized = new Response(body);
    const bytes = new Uint8Array(await serialized.arrayBuffer());
    const contentType = serialized.headers.get('content-type') ?? multipartType(bytes);
    return { bytes, replacement: { body: bytes, contentType }, replayable: true };
  }
  return undefined; // a stream, an async iterable, or something fetch itself will refuse
}

/** A boundary as RFC 2046 §5.1.1 allows it (1–70 `bchars`, not ending in a space). */
const BOUNDARY = /^[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]$/;

/**
 * The Content-Type of a serialized form, read from its first line (`--<boundary>`), for runtimes
 * whose `Response` does not say it: Bun 1.4 gives a FormData Response no Content-Type, and
 * the bytes would go out without the boundary they are split at. Null when the first line is no
 * delimiter: then nothing is set, as before.
 */
export function multipartType(bytes: Uint8Array): string | null {
  const head = new TextDecoder().decode(bytes.subarray(0, 80));
  const end = head.indexOf('\r\n');
  let boundary = head.startsWith('--') && end > 2 ? head.slice(2, end) : '';
  // an empty form is its close delimiter alone, `--<boundary>--`
  if (end + 2 === bytes.length && boundary.endsWith('--')) boundary = boundary.slice(0, -2);
  return BOUNDARY.test(boundary) ? `multipart/form-data; boundary=${boundary}` : null;
}

function isReplayableInitBody(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof URLSearchParams ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}

/**
 * Looks at the body a fetch call will send: `init.body` when given, else the Request's.
 * A Request's body is read only when a digest needs it, from a clone: the caller's Request
 * is left unread, and the bytes digested are the bytes sent.
 */
export async function prepareBody(request: Request | undefined, init: RequestInit | undefined, digest: boolean): Promise<PreparedBody> {
  // A null init.body means "no override": fetch then sends the Request's own body.
  if (init?.body !== undefined && init.body !== null) {
    // synchronously, before the first await: what the caller changes after the call is not sent
    const replacement = snapshot(init.body);
    if (replacement !== undefined) return digest ? { bytes: replacement.body, replacement, replayable: true } : { replacement, replayable: true };
    if (!digest) return { replayable: isReplayableInitBody(init.body) };
    const prepared = await initBodyBytes(init.body);
    if (prepared === undefined) throw new IpStampClientError('ERR_IPSTAMP_BODY_NOT_DIGESTIBLE');
    return prepared;
  }
  if (request === undefined || request.body === null) return digest ? { bytes: new Uint8Array(0), replayable: true } : { replayable: true };
  if (!digest) return { replayable: false };
  const bytes = new Uint8Array(await request.clone().arrayBuffer());
  return { bytes, replacement: { body: bytes, contentType: null }, replayable: true };
}
