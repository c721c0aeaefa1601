/** The network hints (PROTOCOL.md §4): PROXY protocol, forwarding headers, trust, the observed walk. */
export { collectHints, type HintLayer, type HintSources, type CollectedHints } from './collect.js';
export { parseForwarded, forwardedForOf, forwardedProtoOf } from './forwarded.js';
export {
  forwardedScheme,
  parseForwardedProto,
  parseXForwardedProto,
  protoHeaderReader,
  schemeOf,
  type ProtoHeaderOption,
  type ProtoHeaderReader,
  type Scheme,
  type SchemeEntries,
} from './forwarded-proto.js';
export {
  DEFAULT_FORWARDED_HEADER,
  DEFAULT_FORWARDING_LIMITS,
  forwardingHeaderReader,
  headerInstances,
  type ForwardingEntries,
  type ForwardingHeaderReader,
  type ForwardingLimits,
} from './forwarding-header.js';
export { observedAddress, observedIndex } from './observed.js';
export { peerAddressOf, recordPeerAddress, trackPeerAddresses } from './peer-address.js';
export {
  createProxyProtocolServer,
  installProxyProtocol,
  proxyHeaderOf,
  type ProxyProtocolOptions,
  type ProxyRejectEvent,
  type ProxyRejectReason,
} from './proxy-connection.js';
export {
  DEFAULT_PROXY_MAX_HEADER_BYTES,
  detectProxySignature,
  isProxyProtocolError,
  l4AddressOf,
  parseProxyHeader,
  PROXY_V1_MAX_BYTES,
  PROXY_V2_MAX_BYTES,
  PROXY_V2_SIGNATURE,
  ProxyHeaderParser,
  ProxyProtocolError,
  readProxyHeader,
  type ProxyEndpoint,
  type ProxyFamily,
  type ProxyHeader,
  type ProxyHeaderParserOptions,
  type ProxyHeaderRead,
  type ProxyParseStep,
  type ProxyProtocolErrorDetail,
  type ProxySignature,
  type ProxySslInfo,
  type ProxyTlv,
  type ProxyTlvs,
} from './proxy-protocol.js';
export { PROXY_PROTOCOL_ERROR_DETAILS } from './proxy-protocol-error.js';
export { parseSingleAddressHeader } from './single-address-header.js';
export { compileTrust, TRUST_PRESETS, type TrustMatcher } from './trust.js';
export { parseXForwardedFor } from './x-forwarded-for.js';
