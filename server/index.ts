/**
 * `ipstamp/server`: the framework-neutral verifier core — verifier, network hints and trust,
 * the replay-store contract and the memory store, the ticket issuer core, errors. Loads no
 * framework, no Redis client, no HTTP client and no attack harness: those have their own
 * entries (`ipstamp/fastify`, `ipstamp/redis`, `ipstamp/attack`).
 *
 * Every name is listed (no `export *`): a name that leaves or joins this list is a decision,
 * and test/package/exports.test.ts holds the list it must equal. Every type reachable from
 * what is exported here is exported too. Protocol data (reasons, titles, statuses, schemas,
 * address helpers) lives in `ipstamp`; the PROXY-protocol and forwarding-header parsers stay
 * internal (the connection layer and the verifier run them).
 */

// The verifier: plain data in (`VerifyInput`), a verdict out.
export { createVerifier, type CreateVerifierOptions } from './verify/create-verifier.js';
export type { VerifierInstrumentation, VerifyFunction } from './verify/instrumentation.js';
export type { Verifier } from './verify/verifier.js';
export type { VerifyInput, VerifyResult, Verdict, NetworkHints, ConnectionHints, Agreement, HeaderMap } from './verify/types.js';
export type { KeysOption, JwkSet, VerifierKeyInput, KeyWithAlg, NodeKeyObject } from './verify/key-source.js';
// Key rotation: a JWK Set reloaded in place, or fetched from a URL (`keys: set.lookup`).
export { createKeySet, type KeySet, type KeySetChange } from './verify/key-set.js';
export { createRemoteKeySet, type RemoteKeySet, type RemoteKeySetOptions } from './verify/remote-key-set.js';
export { KeySetFetchError, isKeySetFetchError } from './verify/key-set-fetches.js';
export type { VerifierSettings } from './verify/options.js';
export type { RequestScheme, SchemeSource } from './verify/scheme.js';
export type { ProtoHeaderOption, Scheme } from './hints/forwarded-proto.js';
export type { IssuersOption, VerifiedTicket } from './verify/ticket-verifier.js';
// Rate limiters key on the address the verifier believes, IPv6 grouped to a prefix.
export { rateLimitKey, type RateLimitKeyOptions, type RateLimitKeySource } from './verify/rate-limit-key.js';
// Adapters answer CORS preflights themselves (never verified) and allow the stamp headers.
export { isCorsPreflight, STAMP_REQUEST_HEADERS } from './verify/cors-preflight.js';

// Trust and the connection: the peer read at accept, the PROXY protocol on trusted peers.
export { compileTrust, type TrustMatcher } from './hints/trust.js';
export { peerAddressOf, trackPeerAddresses } from './hints/peer-address.js';
export { continueWhenBodyRead } from './hints/expect-continue.js';
export {
  createProxyProtocolServer,
  installProxyProtocol,
  proxyHeaderOf,
  type ProxyProtocolOptions,
  type ProxyRejectEvent,
  type ProxyRejectReason,
} from './hints/proxy-connection.js';
export type { ProxyHeader, ProxyEndpoint, ProxyFamily, ProxySslInfo, ProxyTlv, ProxyTlvs } from './hints/proxy-header.js';
export type { ProxyProtocolErrorDetail } from './hints/proxy-protocol-error.js';

// Replay stores: the contract and the in-process store (Redis: `ipstamp/redis`).
export { MemoryReplayStore, type MemoryReplayStoreOptions } from './stores/memory.js';
export { ReplayStoreFullError, isReplayStoreFullError, type ReplayStore } from './stores/replay-store.js';

// Tickets (PROTOCOL.md §7): the issuer core; verification is the verifier's `issuers` option.
export {
  createTicketIssuer,
  createIssuerKeys,
  type TicketIssuer,
  type TicketIssuerOptions,
  type IssueResult,
  type IssuerKeys,
  type IssuerKeyInput,
} from './issuer/issuer.js';
export type { IssuerRouteOptions } from './issuer/issuer-routes.js';

// Browser keys: public JWKs registered at login, a `keys` source for the verifier.
export {
  createKeyRegistry,
  KeyRegistryFullError,
  isKeyRegistryFullError,
  type KeyRegistry,
  type KeyRegistryOptions,
  type RegisterKeyOptions,
  type RegisteredKey,
} from './registry/key-registry.js';

// Errors: `result.error` of a refusal (the reason tables are in `ipstamp`).
export { IpStampError, isIpStampError } from '../shared/errors.js';
export type { Reason } from '../shared/reasons.js';
