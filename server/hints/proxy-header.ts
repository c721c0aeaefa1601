/** The parsed PROXY protocol header (HAProxy proxy-protocol.txt, v1 and v2): plain data. */

export type ProxyFamily =
  | 'TCP4'
  | 'TCP6'
  | 'UDP4'
  | 'UDP6'
  | 'UNIX_STREAM'
  | 'UNIX_DGRAM'
  /** v2 AF_UNSPEC, and every v2 LOCAL header (whose address block the spec says to discard). */
  | 'UNSPEC'
  /** v1 `PROXY UNKNOWN`. */
  | 'UNKNOWN';

export interface ProxyEndpoint {
  /** Canonical text (PROTOCOL.md §3): IPv4-mapped IPv6 is written as IPv4. */
  readonly address: string;
  readonly port: number;
}

export interface ProxySslInfo {
  /** PP2_CLIENT_* bit field: 0x01 SSL, 0x02 CERT_CONN, 0x04 CERT_SESS. */
  readonly client: number;
  /** 0 when the client presented a certificate that verified. */
  readonly verify: number;
  readonly version?: string;
  readonly cn?: string;
  readonly cipher?: string;
  readonly sigAlg?: string;
  readonly keyAlg?: string;
}

export interface ProxyTlv {
  readonly type: number;
  /** A view into the header's own copy of its TLV bytes: holding a header never pins the socket's read buffer. */
  readonly value: Buffer;
}

export interface ProxyTlvs {
  readonly alpn?: string;
  /** UTF-8 host name (usually the TLS SNI the proxy saw). */
  readonly authority?: string;
  /** Present only when a CRC32C TLV was there and matched; a mismatch is an error. */
  readonly crc32c?: 'valid';
  /** Lower-case hex of the opaque id: lossless and safe to log (`Buffer.from(id, 'hex')`). */
  readonly uniqueId?: string;
  readonly ssl?: ProxySslInfo;
  readonly netns?: string;
  /** Every TLV in order, known or not (custom types such as AWS 0xEA included). */
  readonly raw: readonly ProxyTlv[];
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  readonly command: 'PROXY' | 'LOCAL';
  readonly family: ProxyFamily;
  /** Only for TCP4/TCP6/UDP4/UDP6 with the PROXY command: the l4 hint. */
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  readonly tlvs: ProxyTlvs;
  /** Bytes the header occupied on the wire. */
  readonly length: number;
}

export const NO_TLVS: ProxyTlvs = Object.freeze({ raw: Object.freeze([]) as readonly ProxyTlv[] });

/** The l4 hint a header gives: its source address, or undefined (LOCAL, UNKNOWN, UNSPEC, UNIX). */
export function l4AddressOf(header: ProxyHeader | undefined): string | undefined {
  return header?.command === 'PROXY' ? header.source?.address : undefined;
}
