import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { parseProxyHeader, ProxyHeaderParser, ProxyProtocolError, readProxyHeader, type ProxyHeader } from '../../server/hints/proxy-protocol.js';
import { referenceOutcome, type Outcome } from './proxy-reference.js';
import { buildV2, inetAddress, tlv, V2_SIGNATURE } from './proxy-v2-builder.js';

function comparable(header: ProxyHeader): Record<string, unknown> {
  const { tlvs, length: _length, ...rest } = header;
  if (header.version === 1 || (header.command === 'LOCAL' && tlvs.raw.length === 0)) return stripUndefined(rest);
  const { raw, ...named } = tlvs;
  return stripUndefined({ ...rest, tlvs: { ...named, rawTypes: raw.map((t) => t.type) } });
}
function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** What the spec's 16-bit length allows: 16 fixed bytes + 65,535. The parser's default cap. */
const SPEC_MAX = 16 + 0xffff;

function outcome(data: Buffer, maxBytes?: number): Outcome {
  try {
    const read = readProxyHeader(data, maxBytes);
    if (read.state !== 'done') return read.state;
    return { header: comparable(read.header), length: read.header.length };
  } catch (error) {
    if (!(error instanceof ProxyProtocolError)) throw error; // anything else fails the property
    return 'error';
  }
}

function referenceComparable(data: Buffer, maxBytes = SPEC_MAX): Outcome {
  const ref = referenceOutcome(data, maxBytes);
  if (typeof ref === 'string') return ref;
  const { tlvs, ...rest } = ref.header as { tlvs?: Record<string, unknown>; command?: string };
  return { header: stripUndefined(rest.command === 'LOCAL' || tlvs === undefined ? rest : { ...rest, tlvs }), length: ref.length };
}

// ---- generators of spec-valid headers --------------------------------------------------

const port = fc.integer({ min: 0, max: 65535 });
const v1Tcp4 = fc
  .record({ src: fc.ipV4(), dst: fc.ipV4(), sp: port, dp: port })
  .filter(({ src }) => src !== '0.0.0.0')
  .map(({ src, dst, sp, dp }) => `PROXY TCP4 ${src} ${dst} ${sp} ${dp}\r\n`);
const v1Tcp6 = fc
  .record({ src: fc.ipV6(), dst: fc.ipV6(), sp: port, dp: port, upper: fc.boolean() })
  .map(({ src, dst, sp, dp, upper }) => `PROXY TCP6 ${upper ? src.toUpperCase() : src} ${dst} ${sp} ${dp}\r\n`)
  .filter((line) => line.length <= 107 && referenceOutcome(Buffer.from(line)) !== 'error');
const v1Unknown = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 92 })
  .map((tail) => (tail === '' ? 'PROXY UNKNOWN\r\n' : `PROXY UNKNOWN ${tail}\r\n`));
const v1Header = fc.oneof(v1Tcp4, v1Tcp6, v1Unknown).map((text) => Buffer.from(text, 'latin1'));

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const sslValue = fc
  .record({ client: fc.integer({ min: 0, max: 7 }), verify: fc.nat(), version: fc.option(printable(12)), cn: fc.option(fc.string({ maxLength: 20 })) })
  .map(({ client, verify, version, cn }) => {
    const head = Buffer.alloc(5);
    head[0] = client;
    head.writeUInt32BE(verify >>> 0, 1);
    const subs = [];
    if (version !== null) subs.push(Buffer.concat([Buffer.from([0x21, 0, Buffer.byteLength(version)]), Buffer.from(version)]));
    if (cn !== null) subs.push(Buffer.concat([Buffer.from([0x22, 0, Buffer.byteLength(cn)]), Buffer.from(cn)]));
    return Buffer.concat([head, ...subs]);
  });
const tlvList = fc
  .record({
    alpn: fc.option(printable(10)),
    authority: fc.option(fc.string({ maxLength: 40 })),
    uniqueId: fc.option(bytes(0, 128)),
    ssl: fc.option(sslValue),
    netns: fc.option(printable(16)),
    noops: fc.array(bytes(0, 8), { maxLength: 2 }),
    custom: fc.array(fc.record({ type: fc.integer({ min: 0xe0, max: 0xff }), value: bytes(0, 16) }), { maxLength: 2 }),
  })
  .chain((t) => {
    const list = [
      ...(t.alpn !== null ? [tlv(1, t.alpn)] : []),
      ...(t.authority !== null ? [tlv(2, t.authority)] : []),
      ...(t.uniqueId !== null ? [tlv(5, t.uniqueId)] : []),
      ...(t.ssl !== null ? [tlv(0x20, t.ssl)] : []),
      ...(t.netns !== null ? [tlv(0x30, t.netns)] : []),
      ...t.noops.map((v) => tlv(4, v)),
      ...t.custom.map((c) => tlv(c.type, c.value)),
    ];
    return fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length });
  });
const nonZero = (n: number) => bytes(n, n).filter((b) => b.some((x) => x !== 0));
/** NOOP padding: none, a little, any amount up to the 16-bit length, or exactly up to it. */
const padding = fc.oneof(
  { weight: 4, arbitrary: fc.constant<number | 'max' | null>(null) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  { weight: 1, arbitrary: fc.constant<'max'>('max') },
);
const v2Header = fc
  .record({
    command: fc.constantFrom(0, 1, 1, 1),
    fam: fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32),
    src4: nonZero(4),
    dst4: bytes(4, 4),
    src16: nonZero(16),
    dst16: bytes(16, 16),
    unix: bytes(216, 216),
    ports: fc.tuple(port, port),
    tlvs: tlvList,
    crc: fc.boolean(),
    pad: padding,
  })
  .map((r) => {
    const address =
      r.fam >> 4 === 1
        ? inetAddress([...r.src4], [...r.dst4], ...r.ports)
        : r.fam >> 4 === 2
          ? inetAddress([...r.src16], [...r.dst16], ...r.ports)
          : r.fam >> 4 === 3
            ? r.unix
            : Buffer.alloc(0);
    const unpadded = buildV2({ command: r.command, fam: r.fam, address, tlvs: r.tlvs, crc: r.crc }).length;
    // 'max': one NOOP TLV that brings the header to exactly 16 + 65,535 bytes; never past it
    const room = SPEC_MAX - unpadded - 3;
    const noop = r.pad === 'max' ? room : r.pad === null ? null : Math.min(r.pad, room);
    const tlvs = noop === null || noop < 0 ? r.tlvs : [tlv(4, Buffer.alloc(noop)), ...r.tlvs];
    return buildV2({ command: r.command, fam: r.fam, address, tlvs, crc: r.crc });
  })
  .filter((h) => h.length <= SPEC_MAX && referenceOutcome(h) !== 'error');
const anyHeader = fc.oneof(v1Header, v2Header);

const mutation = (header: Buffer) =>
  fc.oneof(
    fc.record({ at: fc.nat(header.length - 1), byte: fc.integer({ min: 0, max: 255 }) }).map(({ at, byte }) => {
      const copy = Buffer.from(header);
      copy[at] = byte;
      return copy;
    }),
    // small steps hit length fields: a TLV that overruns by one byte must not slip through
    fc.record({ at: fc.nat(header.length - 1), delta: fc.constantFrom(-2, -1, 1, 2) }).map(({ at, delta }) => {
      const copy = Buffer.from(header);
      copy[at] = (copy[at]! + delta) & 0xff;
      return copy;
    }),
    fc.nat(header.length).map((n) => header.subarray(0, n)),
    fc.record({ at: fc.nat(header.length), extra: bytes(1, 4) }).map(({ at, extra }) => Buffer.concat([header.subarray(0, at), extra, header.subarray(at)])),
    fc.nat(header.length - 1).map((at) => Buffer.concat([header.subarray(0, at), header.subarray(at + 1)])),
  );

const RUNS = { numRuns: 400 };

describe('PROXY parser properties', () => {
  it('accepts every spec-valid header with exactly the result the reference reads', () => {
    fc.assert(
      fc.property(anyHeader, (header) => {
        const got = outcome(header);
        expect(got).not.toBe('error');
        expect(got).toEqual(referenceComparable(header));
        expect(typeof got === 'object' && got.length).toBe(header.length);
      }),
      { numRuns: 600 },
    );
  });

  it('mutated headers: only the typed error, or the same verdict as the reference', () => {
    fc.assert(
      fc.property(anyHeader.chain(mutation), (data) => {
        expect(outcome(data)).toEqual(referenceComparable(data));
      }),
      { numRuns: 1500 },
    );
  });

  // one or two bytes less always cuts into the last TLV, even an empty one (3 bytes)
  it('a v2 header whose length field is shortened into its last TLV is always refused', () => {
    const withTlvs = v2Header.filter((h) => h[12] === 0x21 && h.length > 16 + ({ 1: 12, 2: 36, 3: 216 }[h[13]! >> 4] ?? 0));
    fc.assert(
      fc.property(withTlvs, fc.integer({ min: 1, max: 2 }), (header, cut) => {
        const short = Buffer.from(header.subarray(0, header.length - cut));
        short.writeUInt16BE(header.readUInt16BE(14) - cut, 14);
        expect(outcome(short)).toBe('error');
      }),
      RUNS,
    );
  });

  it('random bytes behind either signature: only the typed error, or the reference verdict', () => {
    const prefixed = fc
      .tuple(
        fc.constantFrom(
          Buffer.from('PROXY '),
          Buffer.from('PROXY TCP4 '),
          Buffer.from('PROXY TCP6 '),
          V2_SIGNATURE,
          Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x00])]),
        ),
        bytes(0, 300),
      )
      .map(([head, tail]) => Buffer.concat([head, tail]));
    fc.assert(
      fc.property(fc.oneof(prefixed, bytes(0, 64)), (data) => {
        expect(outcome(data)).toEqual(referenceComparable(data));
      }),
      RUNS,
    );
  });

  it('a header fed in pieces, cut anywhere, gives the same header and leaves the rest intact', () => {
    fc.assert(
      fc.property(anyHeader, bytes(0, 40), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (header, rest, cutsRaw, oneByteAtATime) => {
        const stream = Buffer.concat([header, rest]);
        // byte by byte up to 4 KiB; a longer header in as many equal small pieces (bounded work)
        const step = Math.max(1, Math.ceil(stream.length / 4096));
        const cuts = oneByteAtATime
          ? Array.from({ length: Math.ceil(stream.length / step) }, (_, i) => Math.min(stream.length, (i + 1) * step))
          : [...new Set(cutsRaw.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b).concat(stream.length);
        const parser = new ProxyHeaderParser();
        let from = 0;
        let done: { header: ProxyHeader; rest: Buffer } | undefined;
        const tail: Buffer[] = [];
        for (const cut of cuts) {
          if (cut <= from) continue;
          const piece = stream.subarray(from, cut);
          from = cut;
          if (done) {
            tail.push(piece);
            continue;
          }
          const step = parser.push(piece);
          expect(step.state).not.toBe('not-proxy');
          if (step.state === 'done') done = step;
        }
        expect(done).toBeDefined();
        expect(comparable(done!.header)).toEqual(comparable(parseProxyHeader(header)));
        expect(Buffer.concat([done!.rest, ...tail])).toEqual(rest);
      }),
      RUNS,
    );
  });

  it('random chunks never throw anything but the typed error, and never loop', () => {
    fc.assert(
      fc.property(fc.array(bytes(0, 50), { maxLength: 60 }), fc.boolean(), fc.constantFrom(512, undefined), (chunks, v2, cap) => {
        const parser = new ProxyHeaderParser({ maxHeaderBytes: cap });
        const all = [v2 ? V2_SIGNATURE : Buffer.from('PROXY '), ...chunks];
        try {
          for (const chunk of all) if (parser.push(chunk).state !== 'need-more') return;
        } catch (error) {
          expect(error).toBeInstanceOf(ProxyProtocolError);
          return;
        }
        // still waiting: only possible while under the caps
        expect(Buffer.concat(all).length).toBeLessThan(v2 ? (cap ?? SPEC_MAX) : 107);
      }),
      RUNS,
    );
  });

  // No growth before the length is known, no copy of a copy: what a connection can make the
  // parser allocate is linear in the header it declared (the gathered bytes once, the TLVs
  // once), whatever the pieces — never a fixed 64 KiB for a 40-byte v1 line, never n² for a trickle.
  it('memory: a header fed in any pieces costs at most its declared length, twice, plus 107', () => {
    fc.assert(
      fc.property(anyHeader, bytes(0, 40), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (header, rest, cutsRaw, small) => {
        const stream = Buffer.concat([header, rest]);
        const step = Math.max(1, Math.ceil(stream.length / 200)); // many small pieces, bounded in count
        const cuts = small
          ? Array.from({ length: Math.ceil(stream.length / step) }, (_, i) => Math.min(stream.length, (i + 1) * step))
          : [...new Set(cutsRaw.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b).concat(stream.length);
        const parser = new ProxyHeaderParser();
        const allocations = vi.spyOn(Buffer, 'allocUnsafe');
        let from = 0;
        let tail = 0;
        let allocated = 0;
        try {
          for (const cut of cuts) {
            if (cut <= from) continue;
            const piece = stream.subarray(from, cut);
            from = cut;
            if (parser.push(piece).state === 'done') {
              tail = piece.length;
              break;
            }
          }
        } finally {
          allocated = allocations.mock.calls.reduce((sum, [size]) => sum + size, 0);
          allocations.mockRestore();
        }
        expect(allocated).toBeLessThanOrEqual(107 + 2 * header.length + tail);
      }),
      RUNS,
    );
  });
});
