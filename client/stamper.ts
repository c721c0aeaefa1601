import { CompactSign } from 'jose';
import { encodeBase64url } from '../shared/base64url.js';
import { normalizeHtu } from '../shared/htu.js';
import { STAMP_TYP } from '../shared/constants.js';
import type { StampClaims } from '../shared/schema.js';
import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { checkAddressSource, staticAddress, type AddressSource } from './address-source.js';
import { importSigningKey, type SigningKey, type StampKeyInput } from './signing-key.js';
import { sha256Base64url, toBytes, type BodyInput } from './body-digest.js';

export interface StamperOptions {
  key: StampKeyInput;
  /** The client's address: a literal, or a source such as echo/socket. */
  ip: string | AddressSource;
  /** Sign a SHA-256 of the exact body bytes (`cdg`). */
  bodyDigest?: boolean;
  /** Clock in ms, for tests. */
  now?: () => number;
}

export interface StampRequest {
  method: string;
  url: string | URL;
  body?: BodyInput;
  /** Extra claims (e.g. `tth` for tickets). */
  claims?: Partial<StampClaims>;
  /** The clock this request's `iat` is read from, in ms (read after the address is known). Default: the stamper's `now`. */
  now?: () => number;
}

export interface Stamper {
  readonly kid: string;
  readonly alg: string;
  readonly source: AddressSource;
  /** Returns the `Client-IP-Attestation` header value. */
  stamp(request: StampRequest): Promise<string>;
}

const JTI_BYTES = 16; // 128 bits, the minimum PROTOCOL.md §2.2 allows

export function randomJti(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(JTI_BYTES)));
}

const STAMPER_OPTION_NAMES: OptionNames<StamperOptions> = Object.freeze({ key: true, ip: true, bodyDigest: true, now: true });

export function createStamper(options: StamperOptions): Stamper {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, STAMPER_OPTION_NAMES);
  const source = typeof options.ip === 'string' ? staticAddress(options.ip) : options.ip;
  if (typeof source?.current !== 'function') throw new TypeError('ip must be an address or an AddressSource');
  checkAddressSource(source);
  const now = options.now ?? Date.now;
  const bodyDigest = options.bodyDigest === true;
  const keyInput = options.key;
  if (typeof keyInput !== 'object' || keyInput === null) throw new TypeError('key must be a JWK or { key, kid, alg }');
  let signingKey: Promise<SigningKey> | undefined;
  const header = { alg: keyInput.alg as string, typ: STAMP_TYP, kid: keyInput.kid as string };
  const encoder = new TextEncoder();

  return {
    kid: header.kid,
    alg: header.alg,
    source,
    async stamp(request: StampRequest): Promise<string> {
      const htu = htuOf(request.url);
      signingKey ??= importSigningKey(keyInput);
      const key = await signingKey;
      const claims: StampClaims = {
        ip: await source.current(),
        iat: Math.floor((request.now ?? now)() / 1000),
        jti: randomJti(),
        htm: request.method.toUpperCase(),
        htu,
        obs: source.obs,
        ...request.claims,
      };
      if (bodyDigest) claims.cdg = await sha256Base64url(toBytes(request.body));
      const payload = encoder.encode(JSON.stringify(claims));
      return new CompactSign(payload).setProtectedHeader({ ...header, alg: key.alg }).sign(key.key);
    },
  };
}

/**
 * PROTOCOL §2.2: `htu` is an http(s) URI, so a stamp for any other scheme is one no verifier can
 * accept. A WebSocket handshake goes out as an HTTP request to the `http:`/`https:` form of its
 * `ws:`/`wss:` URL, and that form is what the server checks.
 */
function htuOf(url: string | URL): string {
  const htu = normalizeHtu(url);
  if (htu.startsWith('http://') || htu.startsWith('https://')) return htu;
  const scheme = htu.slice(0, htu.indexOf(':') + 1);
  const hint = scheme === 'ws:' || scheme === 'wss:' ? ` (sign a WebSocket handshake for its ${scheme === 'ws:' ? 'http:' : 'https:'} form)` : '';
  throw new TypeError(`url must be an http: or https: URL, not ${scheme}${hint}`);
}
