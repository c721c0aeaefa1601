import { CidrList } from '../hints/cidr-list.js';
import { compileTrustRanges } from '../hints/trust-ranges.js';
import { webCrypto, type WebKey } from '../jws/web-crypto.js';
import type { VerifyPlatform } from './platform.js';

/** Web standards only: WebCrypto and a pure-JavaScript range list — no `node:` module, no Buffer. */
export const webPlatform: VerifyPlatform<WebKey> = Object.freeze({
  crypto: webCrypto,
  compileTrust: (spec: string | readonly string[] | undefined, option = 'trustedProxies') => compileTrustRanges(spec, option, () => new CidrList()),
});
