export { createStamper, randomJti, type Stamper, type StamperOptions, type StampRequest } from './stamper.js';
export { staticAddress, type AddressSource } from './address-source.js';
export { importSigningKey, type StampKeyInput, type SigningKey } from './signing-key.js';
export { sha256Base64url, type BodyInput } from './body-digest.js';
export { IpStampError, isIpStampError, type Reason } from '../shared/index.js';
