import { DEFAULT_FORWARDING_LIMITS, walkCommaList, type ForwardingLimits } from './forwarding-list.js';
import { hintAddress } from '../../shared/address.js';

/**
 * RFC 7239 `Forwarded`, all instances in order: one entry per element, the canonical address
 * of its `for=`, or undefined. PROTOCOL.md §4: split at every comma, even inside quotes —
 * a quote the client leaves open must not swallow the elements trusted proxies append.
 * Never throws.
 */
export function parseForwarded(values: readonly string[], limits: ForwardingLimits = DEFAULT_FORWARDING_LIMITS): (string | undefined)[] {
  return walkCommaList(values, limits, forwardedForOf);
}

const FOR = 1;
const PROTO = 8;

/**
 * The address in one element's `for=`; undefined when the element is malformed (a pair
 * without `=`, a name that is not a token, a bad quoted string, a parameter given twice),
 * has no `for`, or its `for` is not an address (`unknown`, `_obfuscated`).
 */
export function forwardedForOf(element: string): string | undefined {
  const value = parameterOf(element, FOR);
  return value === undefined ? undefined : hintAddress(value);
}

/**
 * The `proto=` of one element, unquoted, as written; undefined when the element is malformed
 * (the same rules as for `for=`) or has no `proto`.
 */
export function forwardedProtoOf(element: string): string | undefined {
  return parameterOf(element, PROTO);
}

/**
 * The value of the RFC 7239 parameter `wanted` (its bit) in a well-formed element.
 * Works on offsets: the only string it cuts out is that value.
 */
function parameterOf(element: string, wanted: number): string | undefined {
  let wantedValue: string | undefined;
  let seen = 0; // a bit per RFC 7239 parameter
  // extension parameter names, lower case: a Set, as an element may carry a thousand (a list's
  // includes() made a hostile 8 KB element cost O(n^2) compares before any stamp was checked)
  let others: Set<string> | undefined;
  for (let start = 0; start <= element.length;) {
    let semi = element.indexOf(';', start);
    if (semi === -1) semi = element.length;
    let a = start;
    let b = semi;
    start = semi + 1;
    while (a < b && isOws(element.charCodeAt(a))) a++;
    while (b > a && isOws(element.charCodeAt(b - 1))) b--;
    if (a === b) continue; // the grammar allows empty pairs: `for=x;;by=y`
    const eq = element.indexOf('=', a);
    if (eq <= a || eq >= b || !isToken(element, a, eq)) return undefined;
    const bit = parameterBit(element, a, eq);
    if (bit !== 0) {
      if (seen & bit) return undefined;
      seen |= bit;
    } else {
      const name = element.slice(a, eq).toLowerCase();
      if (others === undefined) others = new Set([name]);
      else if (others.has(name)) return undefined;
      else others.add(name);
    }
    if (bit === wanted) {
      wantedValue = valueOf(element, eq + 1, b);
      if (wantedValue === undefined) return undefined;
    } else if (!isValue(element, eq + 1, b)) {
      return undefined;
    }
  }
  return wantedValue;
}

/** for=1, by=2, host=4, proto=8 (names are case-insensitive); 0 for anything else. */
function parameterBit(text: string, from: number, to: number): number {
  const lower = (i: number) => text.charCodeAt(from + i) | 0x20;
  switch (to - from) {
    case 3:
      return lower(0) === 0x66 && lower(1) === 0x6f && lower(2) === 0x72 ? 1 : 0;
    case 2:
      return lower(0) === 0x62 && lower(1) === 0x79 ? 2 : 0;
    case 4:
      return lower(0) === 0x68 && lower(1) === 0x6f && lower(2) === 0x73 && lower(3) === 0x74 ? 4 : 0;
    case 5:
      return lower(0) === 0x70 && lower(1) === 0x72 && lower(2) === 0x6f && lower(3) === 0x74 && lower(4) === 0x6f ? 8 : 0;
    default:
      return 0;
  }
}

function isValue(text: string, from: number, to: number): boolean {
  return valueOf(text, from, to, false) !== undefined;
}

/** A token or quoted-string value, unquoted; `text` is cut out only when `extract`. */
function valueOf(text: string, from: number, to: number, extract = true): string | undefined {
  if (from >= to) return undefined;
  if (text.charCodeAt(from) !== 0x22) {
    // a token; ':' '[' ']' also tolerated, for proxies that forget to quote `[v6]:port`
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (!(isTchar(c) || c === 0x3a || c === 0x5b || c === 0x5d)) return undefined;
    }
    return extract ? text.slice(from, to) : '';
  }
  let out = '';
  let runStart = from + 1;
  for (let i = from + 1; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      if (i !== to - 1) return undefined; // text after the closing quote
      return extract ? out + text.slice(runStart, i) : '';
    }
    if (c === 0x5c) {
      // quoted-pair: backslash and one HTAB / SP / VCHAR / obs-text
      if (i + 1 >= to || !isQdChar(text.charCodeAt(i + 1))) return undefined;
      if (extract) out += text.slice(runStart, i);
      runStart = i + 1;
      i++;
    } else if (!isQdChar(c)) {
      return undefined;
    }
  }
  return undefined; // no closing quote
}

function isQdChar(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function isToken(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isTchar(text.charCodeAt(i))) return false;
  return true;
}

/** RFC 9110 tchar. */
function isTchar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  switch (c) {
    case 0x21:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0x27:
    case 0x2a:
    case 0x2b:
    case 0x2d:
    case 0x2e:
    case 0x5e:
    case 0x5f:
    case 0x60:
    case 0x7c:
    case 0x7e:
      return true;
    default:
      return false;
  }
}
