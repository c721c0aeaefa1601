/**
 * The `ipstamp/client/node` entry: everything the universal entry (`ipstamp/client`) has,
 * plus the Node-only pieces (TCP socket address, key files, the undici interceptor). Every
 * name is listed — no `export *` — and `createStampedFetch` here is the Node one, which adds
 * `ip: 'socket'`. test/package/exports.test.ts holds the list it must equal.
 */
export { createStamper, randomJti, type Stamper, type StamperOptions, type StampRequest } from './stamper.js';
export { staticAddress, type AddressSource } from './address-source.js';
export { importSigningKey, type StampKeyInput, type SigningKey } from './signing-key.js';
export { sha256Base64url, type BodyInput } from './body-digest.js';
export { IpStampError, isIpStampError } from '../shared/errors.js';
export type { Reason } from '../shared/reasons.js';
export { createStampedFetch, type NodeStampedFetchOptions, type SocketFetchOptions } from './stamped-fetch.node.js';
export type { StampedFetch, StampedFetchOptions, AddressFetchOptions, EchoFetchOptions, TicketFetchOptions, AddressLiteral } from './stamped-fetch.js';
export type { TicketKey } from './ticket-proof.js';
export { ticketEndpoint } from './ticket-holder.js';
export { ECHO_PATH } from '../shared/constants.js';
export { echoAddress, echoAddressPerOrigin, type EchoAddressOptions, type EchoPerOriginOptions } from './echo-address.js';
export { perOriginAddress, type PerOriginAddress } from './per-origin-address.js';
export { cachedAddress, type RefreshableAddressSource, type CachedAddressOptions } from './cached-address.js';
export type { AddressOption } from './address-option.js';
export type { FetchLike, ResponseLike } from './fetch-like.js';
export { IpStampClientError, isIpStampClientError, CLIENT_ERROR_MESSAGES, type IpStampClientErrorCode } from './client-error.js';
export { generateStampKey, STAMP_KEY_ALGS, type StampKey, type StampKeyAlg, type StampPublicJwk, type GenerateStampKeyOptions } from './browser-key.js';
export { saveStampKey, loadSavedStampKey, deleteSavedStampKey, StampKeyStoreError, type StampKeyStoreProblem, type StampKeyStoreOptions } from './key-store.js';
// Node only
export { socketAddress, socketAddressPerOrigin, type SocketAddressOptions, type SocketAddressSettings } from './socket-address.node.js';
export { loadStampKey } from './key-file.node.js';
export { ipstampInterceptor, type StampInterceptorOptions } from './interceptor.node.js';
export type { NodeAddressOption } from './node-address-option.node.js';
