import type { ProxyHeader } from './proxy-header.js';
import { ProxyProtocolError } from './proxy-protocol-error.js';
import { parseProxyV1, PROXY_V1_MAX_BYTES, PROXY_V1_PREFIX } from './proxy-protocol-v1.js';
import { parseProxyV2, PROXY_V2_SIGNATURE } from './proxy-protocol-v2.js';

export type { ProxyEndpoint, ProxyFamily, ProxyHeader, ProxySslInfo, ProxyTlv, ProxyTlvs } from './proxy-header.js';
export { l4AddressOf } from './proxy-header.js';
export { ProxyProtocolError, isProxyProtocolError, type ProxyProtocolErrorDetail } from './proxy-protocol-error.js';
export { PROXY_V1_MAX_BYTES } from './proxy-protocol-v1.js';
export { PROXY_V2_SIGNATURE } from './proxy-protocol-v2.js';

/** The largest v2 header the spec's 16-bit length field can declare: 16 fixed bytes + 65,535. */
export const PROXY_V2_MAX_BYTES = 16 + 0xffff;
/**
 * By default every size the spec allows: a trusted proxy's header is not ours to trim, and the
 * header timeout and the per-connection buffer (never more than the declared length) bound abuse.
 */
export const DEFAULT_PROXY_MAX_HEADER_BYTES = PROXY_V2_MAX_BYTES;
/** 16 fixed bytes + the 216-byte UNIX address block: the smallest cap every family fits in. */
const MIN_MAX_HEADER_BYTES = 232;
/** Enough for a whole v1 line and for a v2 header's 16 fixed bytes, which hold its length. */
const FIRST_GATHER_BYTES = PROXY_V1_MAX_BYTES;

export type ProxySignature = 'v1' | 'v2' | 'not-proxy' | 'undecided';

/**
 * What the first bytes of a connection are, decided as early as a byte allows: `v1` after
 * `PROXY `, `v2` after the 12-byte signature, `not-proxy` at the first byte that leaves both,
 * `undecided` while everything seen is still a prefix of one of them.
 */
export function detectProxySignature(data: Uint8Array): ProxySignature {
  if (data.length === 0) return 'undecided';
  const signature = data[0] === PROXY_V2_SIGNATURE[0] ? PROXY_V2_SIGNATURE : PROXY_V1_PREFIX;
  const n = Math.min(data.length, signature.length);
  for (let i = 0; i < n; i++) if (data[i] !== signature[i]) return 'not-proxy';
  if (n < signature.length) return 'undecided';
  return signature === PROXY_V2_SIGNATURE ? 'v2' : 'v1';
}

export type ProxyHeaderRead = { readonly state: 'need-more' } | { readonly state: 'not-proxy' } | { readonly state: 'done'; readonly header: ProxyHeader };

const NEED_MORE: ProxyHeaderRead = Object.freeze({ state: 'need-more' });
const NOT_PROXY: ProxyHeaderRead = Object.freeze({ state: 'not-proxy' });

/**
 * One look at the bytes received so far (from the start of the connection). Pure; throws
 * `ProxyProtocolError` as soon as the bytes cannot become a valid header. The header's
 * `length` says how many bytes it used; the rest belongs to the next protocol.
 */
export function readProxyHeader(data: Uint8Array, maxHeaderBytes = DEFAULT_PROXY_MAX_HEADER_BYTES): ProxyHeaderRead {
  const kind = detectProxySignature(data);
  if (kind === 'not-proxy') return NOT_PROXY;
  if (kind === 'undecided') return NEED_MORE;
  const header = kind === 'v1' ? parseProxyV1(data) : parseProxyV2(data, maxHeaderBytes);
  return header === undefined ? NEED_MORE : { state: 'done', header };
}

/** For bytes known to hold a complete header: the header, or a typed error (`bad-signature`, `truncated`, …). */
export function parseProxyHeader(data: Uint8Array, maxHeaderBytes = DEFAULT_PROXY_MAX_HEADER_BYTES): ProxyHeader {
  const read = readProxyHeader(data, maxHeaderBytes);
  if (read.state === 'done') return read.header;
  throw new ProxyProtocolError(read.state === 'not-proxy' ? 'bad-signature' : 'truncated');
}

export type ProxyParseStep =
  | { readonly state: 'need-more' }
  | { readonly state: 'not-proxy'; readonly rest: Buffer }
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly rest: Buffer };

const NEED_MORE_STEP: ProxyParseStep = Object.freeze({ state: 'need-more' });

export interface ProxyHeaderParserOptions {
  /** Cap on a v2 header's total size in bytes (v1 is always capped at 107). Default 65,551, the spec's maximum. */
  maxHeaderBytes?: number;
}

export function checkMaxHeaderBytes(value: number | undefined, option = 'maxHeaderBytes'): number {
  if (value === undefined) return DEFAULT_PROXY_MAX_HEADER_BYTES;
  if (!Number.isInteger(value) || value < MIN_MAX_HEADER_BYTES || value > PROXY_V2_MAX_BYTES) {
    throw new TypeError(`${option} must be an integer from ${MIN_MAX_HEADER_BYTES} to ${PROXY_V2_MAX_BYTES}`);
  }
  return value;
}

/**
 * Incremental reader for one connection: feed it chunks as they arrive. Memory follows what the
 * header declares, never the cap: a fragmented header is gathered into 107 bytes (all a v1 line
 * or a v2 length field needs), and a v2 header longer than that into one buffer of exactly its
 * declared length once its 16 fixed bytes are in (the bytes gathered so far are copied over
 * once, the rest straight in: linear, never a copy per chunk). Bytes past the header are never
 * gathered — they are handed back in `rest`.
 */
export class ProxyHeaderParser {
  readonly #maxHeaderBytes: number;
  #gathered: Buffer | undefined;
  #length = 0;
  #finished = false;

  constructor(options: ProxyHeaderParserOptions = {}) {
    this.#maxHeaderBytes = checkMaxHeaderBytes(options.maxHeaderBytes);
  }

  push(chunk: Buffer): ProxyParseStep {
    if (this.#finished) throw new Error('ProxyHeaderParser: push after the parser finished');
    if (chunk.length === 0) return NEED_MORE_STEP;
    let used = 0;
    if (this.#length === 0) {
      const read = this.#read(chunk);
      if (read.state === 'done') return { state: 'done', header: read.header, rest: chunk.subarray(read.header.length) };
      if (read.state === 'not-proxy') return { state: 'not-proxy', rest: chunk };
      this.#gathered = Buffer.allocUnsafe(Math.max(FIRST_GATHER_BYTES, declaredV2Length(chunk)));
    }
    for (;;) {
      const gathered = this.#gathered!;
      const copied = Math.min(chunk.length - used, gathered.length - this.#length);
      chunk.copy(gathered, this.#length, used, used + copied);
      this.#length += copied;
      used += copied;
      const data = gathered.subarray(0, this.#length);
      const read = this.#read(data);
      if (read.state === 'need-more') {
        // the 16 fixed bytes are in and declare more than fits: grow once, to exactly that
        const declared = declaredV2Length(data);
        if (declared <= gathered.length) return read;
        this.#gathered = Buffer.allocUnsafe(declared);
        data.copy(this.#gathered);
        if (used === chunk.length) return read;
        continue;
      }
      this.#gathered = undefined;
      const tail = chunk.subarray(used);
      if (read.state === 'not-proxy') return { state: 'not-proxy', rest: Buffer.concat([data, tail]) };
      const rest = read.header.length === data.length ? tail : Buffer.concat([data.subarray(read.header.length), tail]);
      return { state: 'done', header: read.header, rest };
    }
  }

  #read(data: Buffer): ProxyHeaderRead {
    try {
      const read = readProxyHeader(data, this.#maxHeaderBytes);
      if (read.state !== 'need-more') this.#finished = true;
      return read;
    } catch (error) {
      this.#finished = true;
      this.#gathered = undefined;
      throw error;
    }
  }
}

/** What a v2 header's fixed part says its total size is; 0 before those 16 bytes are in (or for v1). */
function declaredV2Length(data: Uint8Array): number {
  return data.length >= 16 && data[0] === PROXY_V2_SIGNATURE[0] ? 16 + ((data[14]! << 8) | data[15]!) : 0;
}
