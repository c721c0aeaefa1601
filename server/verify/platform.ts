import type { CryptoPlatform } from '../jws/platform.js';
import type { TrustMatcher } from '../hints/trust-ranges.js';

/**
 * The platform primitives the one verify pipeline runs on: cryptography and bytes (jws/platform.ts)
 * and the CIDR matcher trust and `allowed_ips` compile into. Node's (node-platform.ts) keeps
 * node:crypto KeyObjects and node:net BlockList; the web's (web-platform.ts) WebCrypto and a
 * pure-JavaScript range list. Everything else — the checks, their order, reasons and verdicts — is shared.
 */
export interface VerifyPlatform<Key = unknown> {
  readonly crypto: CryptoPlatform<Key>;
  /** CIDRs and presets compiled once; TypeError naming `option` for anything unreadable. */
  compileTrust(spec: string | readonly string[] | undefined, option?: string): TrustMatcher;
}
