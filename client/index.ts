export { createStamper, randomJti, type Stamper, type StamperOptions, type StampRequest } from './stamper.js';
export { staticAddress, type AddressSource } from './address-source.js';
export { importSigningKey, type StampKeyInput, type SigningKey } from './signing-key.js';
export { sha256Base64url, type BodyInput } from './body-digest.js';
export { IpStampError, isIpStampError } from '../shared/errors.js';
export type { Reason } from '../shared/reasons.js';
export {
  createStampedFetch,
  type StampedFetch,
  type StampedFetchOptions,
  type AddressFetchOptions,
  type EchoFetchOptions,
  type TicketFetchOptions,
  type AddressLiteral,
} from './stamped-fetch.js';
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
