/**
 * Why a PROXY protocol header was refused. Stable codes: operators alert on them, tests
 * assert them. Messages are fixed and never echo the bytes that were received.
 */
const MESSAGES = {
  'bad-signature': 'Input does not start with a PROXY protocol signature',
  truncated: 'PROXY protocol header is incomplete',
  'v1-too-long': 'PROXY v1 header exceeds 107 bytes',
  'v1-bad-character': 'PROXY v1 header contains a byte outside printable ASCII',
  'v1-bad-line-ending': 'PROXY v1 header contains a lone CR or LF',
  'v1-bad-protocol': 'PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN',
  'v1-bad-fields': 'PROXY v1 header does not have exactly four single-space separated fields',
  'v1-bad-address': 'PROXY v1 address is not valid for its protocol',
  'v1-bad-port': 'PROXY v1 port is not a decimal number from 0 to 65535',
  'v2-bad-version': 'PROXY v2 version is not 2',
  'v2-bad-command': 'PROXY v2 command is not LOCAL or PROXY',
  'v2-bad-family': 'PROXY v2 address family or transport is not valid',
  'v2-too-long': 'PROXY v2 header exceeds the configured size limit',
  'v2-short-address': 'PROXY v2 header is too short for its address family',
  'unspecified-source': 'PROXY header source address is unspecified',
  'tlv-overrun': 'PROXY v2 TLV runs past the end of its container',
  'tlv-duplicate': 'PROXY v2 TLV occurs more than once',
  'tlv-bad-crc32c': 'PROXY v2 CRC32C TLV does not hold 4 bytes',
  'crc-mismatch': 'PROXY v2 CRC32C checksum does not match',
  'tlv-unique-id-too-long': 'PROXY v2 UNIQUE_ID TLV exceeds 128 bytes',
  'tlv-authority-too-long': 'PROXY v2 AUTHORITY TLV exceeds 255 bytes',
  'tlv-bad-ssl': 'PROXY v2 SSL TLV is shorter than its fixed fields',
  'tlv-bad-text': 'PROXY v2 TLV text is not valid for its type',
} as const;

export type ProxyProtocolErrorDetail = keyof typeof MESSAGES;

export const PROXY_PROTOCOL_ERROR_DETAILS = Object.keys(MESSAGES) as readonly ProxyProtocolErrorDetail[];

export class ProxyProtocolError extends Error {
  override readonly name = 'ProxyProtocolError';
  readonly code = 'ERR_IPSTAMP_PROXY_PROTOCOL' as const;
  readonly detail: ProxyProtocolErrorDetail;

  constructor(detail: ProxyProtocolErrorDetail) {
    super(MESSAGES[detail]);
    this.detail = detail;
  }
}

export function isProxyProtocolError(value: unknown): value is ProxyProtocolError {
  return value instanceof ProxyProtocolError;
}
