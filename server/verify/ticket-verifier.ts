import { createHash, KeyObject } from 'node:crypto';
import { createRemoteJWKSet } from 'jose';
import { normalizeOrigin } from '../../shared/htu.js';
import type { StampAlg } from '../../shared/schema.js';
import { MAX_TICKET_BYTES, ticketClaimsSchema, ticketHeaderSchema, type TicketAlg } from '../../shared/ticket-schema.js';
import { decodeJsonSegment, splitCompact, compactHeaderValue } from '../jws/compact.js';
import { verifySignature } from '../jws/signature.js';
import { compileKeySource, type JwkSet } from './key-source.js';
import { algsOfClientKey, importClientKey, jwkThumbprint } from '../jws/public-jwk.js';

/** Trusted issuers: their public origin (`iss`) → their JWK Set, or the URL it is published at. */
export type IssuersOption = Readonly<Record<string, JwkSet | string>>;

/** A ticket that passed every check of PROTOCOL.md §7.4 except the clock, which is checked on each use. */
export interface VerifiedTicket {
  readonly iss: string;
  readonly ip: string;
  readonly iat: number;
  readonly exp: number;
  /** RFC 7638 thumbprint of the client key: the stamp's kid and its replay namespace. */
  readonly thumbprint: string;
  readonly clientKey: KeyObject;
  readonly clientAlgs: readonly StampAlg[];
  /** base64url SHA-256 of the ticket text: the stamp's `tth` must equal it. */
  readonly tth: string;
}

type IssuerKeyLookup = (kid: string, alg: TicketAlg) => Promise<KeyObject | undefined> | KeyObject | undefined;

const MAX_CACHED_TICKETS = 4096;

function compileIssuers(issuers: IssuersOption): Map<string, IssuerKeyLookup> {
  if (typeof issuers !== 'object' || issuers === null) throw new TypeError('issuers must map issuer origins to JWK Sets or URLs');
  const out = new Map<string, IssuerKeyLookup>();
  for (const [iss, source] of Object.entries(issuers)) {
    const origin = normalizeOrigin(iss);
    if (!origin || origin !== iss) throw new TypeError(`issuers: "${iss}" must be a normalized origin like https://edge.example.com`);
    if (typeof source === 'string') {
      let url: URL;
      try {
        url = new URL(source);
      } catch {
        throw new TypeError(`issuers["${iss}"]: not a URL`);
      }
      // jose fetches, caches and rotates the set; keys are turned into KeyObjects once per kid
      const remote = createRemoteJWKSet(url, { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      const imported = new Map<string, KeyObject>();
      out.set(iss, async (kid, alg) => {
        const key = `${alg} ${kid}`;
        const known = imported.get(key);
        if (known) return known;
        try {
          const cryptoKey = await remote({ alg, kid });
          const keyObject = KeyObject.from(cryptoKey as CryptoKey);
          if (imported.size < 64) imported.set(key, keyObject);
          return keyObject;
        } catch {
          return undefined;
        }
      });
    } else {
      const keys = compileKeySource(source);
      out.set(iss, (kid, alg) => {
        const key = keys(kid) as ReturnType<ReturnType<typeof compileKeySource>>;
        if (key instanceof Promise) return undefined; // a JWK Set is synchronous
        return key && key.alg === alg ? key.keyObject : undefined;
      });
    }
  }
  return out;
}

/**
 * Returns the check of §7.4 for a `Client-IP-Ticket` header: undefined means `bad-ticket`.
 * A ticket is reused for every request of its lifetime, so a verified one is remembered by its
 * text (bounded); only the clock is checked again.
 */
export function createTicketVerifier(issuers: IssuersOption, skew: number) {
  const byIss = compileIssuers(issuers);
  const cache = new Map<string, VerifiedTicket>();

  async function check(text: string): Promise<VerifiedTicket | null> {
    if (text.length > MAX_TICKET_BYTES) return null;
    const parts = splitCompact(text);
    if (!parts) return null;
    const headerJson = decodeJsonSegment(parts.headerSegment);
    const header = headerJson && ticketHeaderSchema.safeParse(headerJson);
    if (!header?.success) return null;
    const claimsJson = decodeJsonSegment(parts.payloadSegment);
    const claims = claimsJson && ticketClaimsSchema.safeParse(claimsJson);
    if (!claims?.success) return null;
    const lookup = byIss.get(claims.data.iss);
    if (!lookup) return null;
    const issuerKey = await lookup(header.data.kid, header.data.alg);
    if (!issuerKey || !verifySignature(header.data.alg, issuerKey, parts.signingInput, parts.signature)) return null;
    const jwk = claims.data.cnf.jwk;
    const clientKey = importClientKey(jwk);
    if (!clientKey) return null;
    return {
      iss: claims.data.iss,
      ip: claims.data.ip,
      iat: claims.data.iat,
      exp: claims.data.exp,
      thumbprint: jwkThumbprint(jwk),
      clientKey,
      clientAlgs: algsOfClientKey(jwk),
      tth: createHash('sha256').update(text).digest('base64url'),
    };
  }

  return async function verifyTicket(raw: string | readonly string[], nowMs: number): Promise<VerifiedTicket | undefined> {
    const text = compactHeaderValue(raw);
    if (text === undefined) return undefined;
    let ticket = cache.get(text);
    if (ticket === undefined) {
      // only good tickets are remembered: a failed issuer-key fetch must not stick to a ticket
      ticket = (await check(text)) ?? undefined;
      if (!ticket) return undefined;
      if (cache.size >= MAX_CACHED_TICKETS) cache.clear();
      cache.set(text, ticket);
    }
    const now = nowMs / 1000;
    if (ticket.iat > now + skew || now - skew > ticket.exp) return undefined;
    return ticket;
  };
}

export type TicketVerifier = ReturnType<typeof createTicketVerifier>;
