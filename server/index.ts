/**
 * `ipstamp/server`: the framework-neutral verifier core — verifier, network hints and trust,
 * the replay-store contract and the memory store, the ticket issuer core, errors. Loads no
 * framework, no Redis client, no HTTP client and no attack harness: those have their own
 * entries (`ipstamp/fastify`, `ipstamp/redis`, `ipstamp/attack`).
 */
export { createVerifier, type CreateVerifierOptions } from './verify/create-verifier.js';
export { createVerifierCore, type Verifier } from './verify/verifier.js';
export type { VerifierOptions, VerifierSettings } from './verify/options.js';
export type { RequestScheme, SchemeSource } from './verify/scheme.js';
export type { KeysOption, JwkSet, KeySource, VerifierKeyInput, KeyWithAlg } from './verify/key-source.js';
export type { VerifyInput, VerifyResult, Verdict, NetworkHints, ConnectionHints, Agreement, HeaderMap } from './verify/types.js';
export { ReplayStoreFullError, isReplayStoreFullError, type ReplayStore } from './stores/replay-store.js';
export { isCorsPreflight, STAMP_REQUEST_HEADERS } from './verify/cors-preflight.js';
export { MemoryReplayStore, type MemoryReplayStoreOptions } from './stores/memory.js';
export { compileTrust, TRUST_PRESETS, type TrustMatcher } from './hints/trust.js';
export { IpStampError, isIpStampError, REASONS, REASON_TITLES, REASON_STATUS, type Reason } from '../shared/index.js';
export { createProxyProtocolServer, installProxyProtocol, proxyHeaderOf, type ProxyProtocolOptions } from './hints/proxy-connection.js';
export {
  createKeyRegistry,
  KeyRegistryFullError,
  isKeyRegistryFullError,
  type KeyRegistry,
  type KeyRegistryOptions,
  type RegisterKeyOptions,
  type RegisteredKey,
} from './registry/key-registry.js';
export * from './hints/index.js';
export { createTicketIssuer, type TicketIssuer, type TicketIssuerOptions, type IssueResult } from './issuer/issuer.js';
export type { IssuersOption, VerifiedTicket } from './verify/ticket-verifier.js';
