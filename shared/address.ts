/**
 * Address canonicalization (PROTOCOL.md §3, §4). Universal code: no `node:net`, so the
 * browser SDK canonicalizes exactly as the verifier does.
 */

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const PORT = /^(?:0|[1-9][0-9]{0,4})$/;

/** Four decimal octets 0–255 without leading zeros — the `parseIPv4` rule, without allocating (hot paths). */
export function isStrictIPv4(text: string): boolean {
  if (text.length < 7 || text.length > 15) return false;
  let octets = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || value > 255) return false;
      octets++;
      digits = 0;
      value = 0;
    } else {
      const d = c - 0x30;
      if (d < 0 || d > 9 || (digits === 1 && value === 0) || digits === 3) return false;
      value = value * 10 + d;
      digits++;
    }
  }
  return octets === 4;
}

/** Strict dotted decimal: four octets, no leading zeros (`010.0.0.1` is not octal, it is invalid). */
export function parseIPv4(text: string): number[] | undefined {
  if (text.length < 7 || text.length > 15) return undefined;
  const octets: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (digits === 0 || value > 255 || octets.length === 4) return undefined;
      octets.push(value);
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return undefined; // a leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3) return undefined;
    } else {
      return undefined;
    }
  }
  return octets.length === 4 ? octets : undefined;
}

/** Eight 16-bit groups, or undefined. Accepts `::` compression and a trailing dotted quad. */
export function parseIPv6(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  let head = text;
  let tail4: number[] | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (!tail4) return undefined;
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::", "a::1.2.3.4" leaves "a::"; "a:1.2.3.4" leaves "a:" → needs a group
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const wanted = tail4 ? 6 : 8;
  const double = head.indexOf('::');
  if (double !== -1 && head.indexOf('::', double + 1) !== -1) return undefined;
  const toGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!HEX_GROUP.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (double === -1) {
    const all = toGroups(head);
    if (!all || all.length !== wanted) return undefined;
    groups = all;
  } else {
    const left = toGroups(head.slice(0, double));
    const right = toGroups(head.slice(double + 2));
    if (!left || !right) return undefined;
    const missing = wanted - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  }
  if (tail4) {
    groups.push((tail4[0]! << 8) | tail4[1]!, (tail4[2]! << 8) | tail4[3]!);
  }
  return groups;
}

/** RFC 5952 text: lower case, no leading zeros, the longest (first on a tie) run of ≥2 zero groups as `::`. */
export function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of eight 16-bit groups: IPv4-mapped becomes IPv4, the unspecified address is no address. */
export function canonicalFromGroups(groups: readonly number[]): string | undefined {
  if ((groups[0]! | groups[1]! | groups[2]! | groups[3]! | groups[4]!) === 0) {
    if (groups[5] === 0xffff) {
      const hi = groups[6]!;
      const lo = groups[7]!;
      return (hi | lo) === 0 ? undefined : `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
    }
    if ((groups[5]! | groups[6]! | groups[7]!) === 0) return undefined;
  }
  return formatIPv6(groups);
}

/**
 * The canonical text of a bare address (no brackets, port or zone), or undefined when it is
 * not a valid address. IPv4-mapped IPv6 becomes IPv4; the unspecified addresses are never valid.
 */
export function canonicalAddress(text: string): string | undefined {
  if (text.includes(':')) {
    const groups = parseIPv6(text);
    return groups && canonicalFromGroups(groups);
  }
  // strict parsing admits only the canonical spelling, so valid text is its own canonical form
  return isStrictIPv4(text) && text !== '0.0.0.0' ? text : undefined;
}

/** A claim `ip` must already be canonical (PROTOCOL.md §3): the client canonicalizes, not the verifier. */
export function isCanonicalClaimAddress(text: string): boolean {
  return canonicalAddress(text) === text;
}

/**
 * An address as a network hint writes it: `[v6]`, `[v6]:port`, `v4:port`, a zone id —
 * all stripped (PROTOCOL.md §4). Returns the canonical address or undefined.
 */
export function hintAddress(raw: string): string | undefined {
  // the common cases, answered without allocating: a dotted quad, and the ::ffff:a.b.c.d form
  // Node gives for IPv4 peers of a dual-stack listener
  const v4 = raw.startsWith('::ffff:') ? raw.slice(7) : raw;
  if (isStrictIPv4(v4)) return v4 === '0.0.0.0' ? undefined : v4;
  let text = raw;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !(rest.startsWith(':') && PORT.test(rest.slice(1)) && Number(rest.slice(1)) <= 65535)) {
      return undefined;
    }
    text = text.slice(1, close);
    if (!text.includes(':')) return undefined; // brackets are for IPv6 only
  } else {
    const colon = text.indexOf(':');
    if (colon !== -1 && text.indexOf(':', colon + 1) === -1) {
      // exactly one colon: v4:port
      const port = text.slice(colon + 1);
      if (!PORT.test(port) || Number(port) > 65535) return undefined;
      text = text.slice(0, colon);
      if (text.includes(':') || !parseIPv4(text)) return undefined;
    }
  }
  const zone = text.indexOf('%');
  if (zone !== -1) {
    if (!text.includes(':') || zone === text.length - 1) return undefined;
    text = text.slice(0, zone);
  }
  return canonicalAddress(text);
}

/** Equality after canonicalization; anything invalid is equal to nothing. */
export function sameAddress(a: string, b: string): boolean {
  const ca = canonicalAddress(a);
  return ca !== undefined && ca === canonicalAddress(b);
}
