import { createHash } from 'node:crypto';
import { createStamper, randomJti, type Stamper } from '../../client/index.js';
import { normalizeHtu, STAMP_HEADER, STAMP_TYP, type StampClaims } from '../../shared/index.js';
import { signCompact, spoofedAddressFor, tokenTamper } from './catalog/forge.js';
import type { AttackContext, HttpAttackRequest, HttpOptions, SignOptions, StampOptions, TicketTools } from './catalog/types.js';
import type { AttackKey } from './keys.js';

export interface ContextOptions {
  readonly target: URL;
  /** The route's method, when the run fixed one (`--method`). */
  readonly method?: string;
  readonly ip: string;
  readonly key: AttackKey;
  readonly raceCopies: number;
  readonly tickets?: TicketTools;
}

/** Methods whose requests carry a body; the others are sent without one. */
export const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

/** The body every request of a POST-like route carries: small JSON, which any such route should parse. */
export const ROUTE_BODY = '{"ipstamp":"attack"}';

/** The method and body of the route under attack, as the context and the ticket tools share them. */
export function routeOf(method: string | undefined): { method: string; body: string | undefined; bodyMethod: string | undefined } {
  const fixed = method ?? 'GET';
  const body = BODY_METHODS.has(fixed) ? ROUTE_BODY : undefined;
  return { method: fixed, body, bodyMethod: body !== undefined ? fixed : method === undefined ? 'POST' : undefined };
}

/** The body of a stamp or request: the one given, else the route's when the method is the route's. */
function bodyFor(opts: { method?: string; body?: string | Uint8Array }, routeBody: string | undefined): string | Uint8Array | undefined {
  if (opts.body !== undefined) return opts.body;
  return opts.method === undefined ? routeBody : undefined;
}

export function createAttackContext(options: ContextOptions): AttackContext {
  const { target, ip, key, raceCopies } = options;
  const route = routeOf(options.method);
  const stamper: Stamper = createStamper({ key: key.jwk, ip });
  const digestStamper: Stamper = createStamper({ key: key.jwk, ip, bodyDigest: true });
  const now = (): number => Math.floor(Date.now() / 1000);

  const ctx: AttackContext = {
    target,
    ip,
    spoofedIp: spoofedAddressFor(ip),
    kid: key.kid,
    alg: key.alg,
    raceCopies,
    method: route.method,
    body: route.body,
    bodyMethod: route.bodyMethod,
    now,
    claims(opts: StampOptions = {}) {
      const body = bodyFor(opts, route.body);
      const claims: StampClaims & Record<string, unknown> = {
        ip,
        iat: now(),
        jti: randomJti(),
        htm: (opts.method ?? route.method).toUpperCase(),
        htu: normalizeHtu(opts.url ?? target),
        obs: 'static',
      };
      if (body !== undefined) claims.cdg = createHash('sha256').update(body).digest('base64url');
      return { ...claims, ...opts.claims };
    },
    header(extra = {}) {
      return { alg: key.alg, typ: STAMP_TYP, kid: key.kid, ...extra };
    },
    sign(header, payload, signOptions: SignOptions = {}) {
      return signCompact(header, payload, (input) =>
        signOptions.attackerKey ? key.attacker.signInput(input) : key.signInput(input, signOptions.signAs, signOptions.secret),
      );
    },
    async stamp(opts: StampOptions = {}) {
      const body = bodyFor(opts, route.body);
      const request = { method: opts.method ?? route.method, url: opts.url ?? target.href, body, claims: opts.claims as Partial<StampClaims> };
      return (body !== undefined ? digestStamper : stamper).stamp(request);
    },
    http(stamp, opts: HttpOptions = {}): HttpAttackRequest {
      const body = bodyFor(opts, route.body);
      const headers: Record<string, string | readonly string[]> = {};
      if (stamp !== undefined) headers[STAMP_HEADER] = stamp;
      if (body !== undefined) headers['content-type'] = 'application/json';
      Object.assign(headers, opts.headers);
      const request: HttpAttackRequest = { kind: 'http', method: opts.method ?? route.method, url: opts.url ?? target.href, headers };
      return {
        ...request,
        ...(body === undefined ? {} : { body }),
        ...(opts.setup ? { setup: true } : {}),
      };
    },
    httpText(stamp) {
      const body = Buffer.from(route.body ?? '', 'utf8');
      const lines = [
        `${route.method} ${target.pathname}${target.search} HTTP/1.1`,
        `Host: ${target.host}`,
        `Client-IP-Attestation: ${stamp}`,
        ...(route.body === undefined ? [] : ['Content-Type: application/json', `Content-Length: ${body.length}`]),
        'Connection: close',
      ];
      return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
    },
    publicKey: key.publicKey,
    attackerPublicJwk: key.attacker.publicJwk,
    tamper: tokenTamper,
    tickets: options.tickets,
  };
  return ctx;
}
