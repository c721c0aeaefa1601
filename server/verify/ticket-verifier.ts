import { normalizeOrigin } from '../../shared/htu.js';
import { misusedKeyProblem } from '../../shared/public-jwk.js';
import type { StampAlg } from '../../shared/schema.js';
import { MAX_TICKET_BYTES } from '../../shared/constants.js';
import type { TicketClaims, TicketHeader } from '../../shared/ticket-schema.js';
import { matchesTicketClaims, matchesTicketHeader, thumbprintInput } from '../../shared/token-checks.js';
import { compactHeaderValue } from '../jws/compact-codec.js';
import { compileKeySource, type JwkSet } from './key-source.js';
import { fetchedIssuerKeys, type IssuerKeyLookup } from './issuer-key-set.js';
import { keySetUrl } from './key-set-url.js';
import type { KeySetFetchError } from './key-set-fetches.js';
import { algsOfClientKey } from '../jws/client-algs.js';
import type { VerifyPlatform } from './platform.js';

/** Trusted issuers: their public origin (`iss`) → their JWK Set, or the URL it is published at. */
export type IssuersOption = Readonly<Record<string, JwkSet | string>>;

/** A ticket that passed every check of PROTOCOL.md §7.4 except the clock, which is checked on each use. */
export interface VerifiedTicket<Key = unknown> {
  readonly iss: string;
  readonly ip: string;
  readonly iat: number;
  readonly exp: number;
  /** RFC 7638 thumbprint of the client key: the stamp's kid and its replay namespace. */
  readonly thumbprint: string;
  /** The platform's key (a node:crypto KeyObject on Node). */
  readonly clientKey: Key;
  readonly clientAlgs: readonly StampAlg[];
  /** base64url SHA-256 of the ticket text: the stamp's `tth` must equal it. */
  readonly tth: string;
}

const MAX_CACHED_TICKETS = 4096;

function compileIssuers<Key>(
  issuers: IssuersOption,
  platform: VerifyPlatform<Key>,
  report: ((error: KeySetFetchError) => void) | undefined,
): Map<string, IssuerKeyLookup<Key>> {
  if (typeof issuers !== 'object' || issuers === null) throw new TypeError('issuers must map issuer origins to JWK Sets or URLs');
  const out = new Map<string, IssuerKeyLookup<Key>>();
  for (const [iss, source] of Object.entries(issuers)) {
    const origin = normalizeOrigin(iss);
    if (!origin || origin !== iss) throw new TypeError(`issuers: "${iss}" must be a normalized origin like https://edge.example.com`);
    if (typeof source === 'string') {
      let url: URL;
      try {
        url = keySetUrl(source);
      } catch (error) {
        // an issuer key swapped on the way would mint tickets for any address
        throw new TypeError(`issuers["${iss}"]: ${(error as Error).message}`);
      }
      out.set(iss, fetchedIssuerKeys(iss, url, platform, report));
    } else {
      // named by its issuer: a TypeError saying `keys.keys[0]` would blame the client keys (and the CLI, --keys)
      const keys = compileKeySource(source, platform, `issuers[${JSON.stringify(iss)}]`);
      out.set(iss, (kid, alg) => {
        const key = keys(kid);
        if (key instanceof Promise) return undefined; // a JWK Set is synchronous
        return key && key.alg === alg ? key.keyObject : undefined;
      });
    }
  }
  return out;
}

/** A verified ticket as remembered, with the issuer key that verified it. */
interface CachedTicket {
  readonly ticket: VerifiedTicket;
  readonly kid: string;
  readonly alg: TicketHeader['alg'];
  readonly issuerKey: unknown;
}

/**
 * Returns the check of §7.4 for a `Client-IP-Ticket` header: undefined means `bad-ticket`.
 * A ticket is reused for every request of its lifetime, so a verified one is remembered by its
 * text (bounded); on each use the clock is checked again, and so is its issuer key: a key the
 * issuer has since retired (a fetched set without it, or one that went stale) no longer vouches
 * for the tickets it signed, and a key replaced under the same kid has them checked afresh.
 */
export function createTicketVerifier(issuers: IssuersOption, skew: number, platform: VerifyPlatform, onIssuerKeysError?: (error: KeySetFetchError) => void) {
  const byIss = compileIssuers(issuers, platform, onIssuerKeysError);
  const { codec, verifySignature, importClientKey, sha256 } = platform.crypto;
  const cache = new Map<string, CachedTicket>();

  async function check(text: string): Promise<CachedTicket | null> {
    if (text.length > MAX_TICKET_BYTES) return null;
    const parts = codec.splitCompact(text);
    if (!parts) return null;
    // the schemas' compiled twins (shared/token-checks.ts), proven equal to them
    const headerJson = codec.decodeJsonSegment(parts.headerSegment);
    if (!matchesTicketHeader(headerJson)) return null;
    const header = headerJson as TicketHeader;
    const claimsJson = codec.decodeJsonSegment(parts.payloadSegment);
    if (!matchesTicketClaims(claimsJson)) return null;
    const claims = claimsJson as TicketClaims;
    const lookup = byIss.get(claims.iss);
    if (!lookup) return null;
    const issuerKey = await lookup(header.kid, header.alg);
    if (!issuerKey || !(await verifySignature(header.alg, issuerKey, parts.signingInput, parts.signature))) return null;
    const jwk = claims.cnf.jwk;
    // a client key marked for something else verifies no stamp (the key registry refuses it too)
    if (misusedKeyProblem(jwk as Record<string, unknown>, 'verify') !== undefined) return null;
    const clientKey = await importClientKey(jwk);
    if (!clientKey) return null;
    const ticket: VerifiedTicket = {
      iss: claims.iss,
      ip: claims.ip,
      iat: claims.iat,
      exp: claims.exp,
      thumbprint: await sha256(thumbprintInput(jwk)),
      clientKey,
      clientAlgs: algsOfClientKey(jwk),
      tth: await sha256(text),
    };
    return { ticket, kid: header.kid, alg: header.alg, issuerKey };
  }

  /** Is the key that verified this ticket still the issuer's key for its kid? */
  async function stillVouched(entry: CachedTicket): Promise<boolean> {
    const found = byIss.get(entry.ticket.iss)!(entry.kid, entry.alg);
    return (found instanceof Promise ? await found : found) === entry.issuerKey;
  }

  return async function verifyTicket(raw: string | readonly string[], nowMs: number): Promise<VerifiedTicket | undefined> {
    const text = compactHeaderValue(raw);
    if (text === undefined) return undefined;
    let entry = cache.get(text);
    if (entry !== undefined && !(await stillVouched(entry))) {
      cache.delete(text);
      entry = undefined;
    }
    if (entry === undefined) {
      // only good tickets are remembered: a failed issuer-key fetch must not stick to a ticket
      entry = (await check(text)) ?? undefined;
      if (!entry) return undefined;
      if (cache.size >= MAX_CACHED_TICKETS) cache.clear();
      cache.set(text, entry);
    }
    const { ticket } = entry;
    const now = nowMs / 1000;
    // what must hold, negated: a clock that gives no number (NaN) fails it
    if (!(ticket.iat <= now + skew && ticket.exp >= now - skew)) return undefined;
    return ticket;
  };
}

export type TicketVerifier = ReturnType<typeof createTicketVerifier>;
