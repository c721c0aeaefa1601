import type { KeyObject } from 'node:crypto';
import { compileTrust } from '../hints/trust.js';
import { nodeCrypto } from '../jws/node-crypto.js';
import type { VerifyPlatform } from './platform.js';

/** Node: node:crypto KeyObjects checked synchronously in OpenSSL, node:net BlockList for ranges — the fast path. */
export const nodePlatform: VerifyPlatform<KeyObject> = Object.freeze({ crypto: nodeCrypto, compileTrust });
