import { createHash } from 'node:crypto';
import { createStamper, randomJti, type Stamper } from '../../client/stamper.js';
import { toBytes } from '../../client/body-digest.js';
import { normalizeHtu } from '../../shared/htu.js';
import { STAMP_HEADER, STAMP_TYP, type StampClaims } from '../../shared/schema.js';
import type { AttackKey } from './attack-key.js';
import type { TicketTools } from './ticket-tools.js';
import { tokenTamper } from './token-tamper.js';
import type { AttackContext, HttpAttackRequest, HttpOptions, SignOptions, StampOptions } from './types.js';

export interface ContextOptions {
  readonly target: URL;
  readonly ip: string;
  readonly key: AttackKey;
  readonly raceCopies: number;
  readonly tickets?: TicketTools;
}

/** Documentation-range addresses (RFC 5737, RFC 3849): never the harness's own. */
export function spoofedAddressFor(ip: string): string {
  if (ip.includes(':')) return ip === '2001:db8::9' ? '2001:db8::23' : '2001:db8::9';
  return ip === '203.0.113.9' ? '198.51.100.23' : '203.0.113.9';
}

function segment(part: Readonly<Record<string, unknown>> | string): string {
  return Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');
}

export function createAttackContext(options: ContextOptions): AttackContext {
  const { target, ip, key, raceCopies } = options;
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
    now,
    claims(opts: StampOptions = {}) {
      const claims: StampClaims & Record<string, unknown> = {
        ip,
        iat: now(),
        jti: randomJti(),
        htm: (opts.method ?? 'GET').toUpperCase(),
        htu: normalizeHtu(opts.url ?? target),
        obs: 'static',
      };
      if (opts.body !== undefined) claims.cdg = createHash('sha256').update(toBytes(opts.body)).digest('base64url');
      return { ...claims, ...opts.claims };
    },
    header(extra = {}) {
      return { alg: key.alg, typ: STAMP_TYP, kid: key.kid, ...extra };
    },
    sign(header, payload, signOptions: SignOptions = {}) {
      const input = `${segment(header)}.${segment(payload)}`;
      const signature = signOptions.attackerKey
        ? key.attacker.signInput(input)
        : key.signInput(input, signOptions.signAs, signOptions.secret);
      return `${input}.${signature.toString('base64url')}`;
    },
    async stamp(opts: StampOptions = {}) {
      const withBody = opts.body !== undefined;
      const request = { method: opts.method ?? 'GET', url: opts.url ?? target.href, body: opts.body, claims: opts.claims as Partial<StampClaims> };
      return (withBody ? digestStamper : stamper).stamp(request);
    },
    http(stamp, opts: HttpOptions = {}): HttpAttackRequest {
      const headers: Record<string, string | readonly string[]> = {};
      if (stamp !== undefined) headers[STAMP_HEADER] = stamp;
      Object.assign(headers, opts.headers);
      const request: HttpAttackRequest = { kind: 'http', method: opts.method ?? 'GET', url: opts.url ?? target.href, headers };
      return {
        ...request,
        ...(opts.body === undefined ? {} : { body: opts.body }),
        ...(opts.setup ? { setup: true } : {}),
      };
    },
    httpText(stamp) {
      const lines = [
        `GET ${target.pathname}${target.search} HTTP/1.1`,
        `Host: ${target.host}`,
        `Client-IP-Attestation: ${stamp}`,
        'Connection: close',
      ];
      return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    },
    publicKey: key.publicKey,
    attackerPublicJwk: key.attacker.publicJwk,
    tamper: tokenTamper,
    tickets: options.tickets,
  };
  return ctx;
}
