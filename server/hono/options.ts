import type { IssuerRouteOptions } from '../issuer/issuer-routes.js';
import type { Context } from 'hono';
import { rejectUnknownOptions } from '../../shared/options.js';
import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import type { ConnectionHints } from '../verify/types.js';

/** The `issuer` option: serve tickets (PROTOCOL.md §7.1) from this verifier. */
/** The `issuer` option: the same for every adapter (server/issuer/issuer-routes.ts). */
export type IssuerHonoOptions = IssuerRouteOptions;

/**
 * What the runtime tells about the connection a request came on. The default reads
 * `@hono/node-server`'s `c.env.incoming.socket`; another runtime passes its own (a later
 * release ships presets). An unknown peer (`l3` undefined) is refused by the verifier.
 */
export type ConnectionOf = (c: Context) => ConnectionHints;

/** `ipstamp(options)`: the verifier's options, plus what the Hono glue adds. */
export interface IpStampHonoOptions extends CreateVerifierOptions {
  /** Refuse a request without a stamp. Default true; false leaves `c.get('ipStamp')` null for an unstamped request. */
  required?: boolean;
  /**
   * Report, do not refuse: a stamp the verifier refuses lets the request through as an unstamped
   * one (`c.get('ipStamp')` null), with the reason in `c.get('ipStampRefusal')`. Default false.
   * Emitted as a warning at creation.
   */
  reportOnly?: boolean;
  /** Answer `GET /.well-known/ipstamp` (PROTOCOL.md §6) with the address this verifier observes. Default true. */
  echo?: boolean;
  /** Also be a ticket issuer (PROTOCOL.md §7): `POST /.well-known/ipstamp/ticket` and the issuer JWK Set. */
  issuer?: IssuerHonoOptions;
  /** The most body bytes read for a `cdg` check. Default 1 MiB; a stamp with `cdg` on a larger body is refused. */
  bodyLimit?: number;
  /** The connection facts of a request (peer address at accept, PROXY header, TLS). Default: `@hono/node-server`'s socket. */
  connection?: ConnectionOf;
}

export interface HonoGlueSettings {
  readonly required: boolean;
  readonly reportOnly: boolean;
  readonly echo: boolean;
  readonly issuer: IssuerHonoOptions | undefined;
  readonly bodyLimit: number;
  readonly connection: ConnectionOf | undefined;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;

function flag(options: IpStampHonoOptions, name: 'required' | 'reportOnly' | 'echo', fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return value;
}

/**
 * Splits the glue's own options from the verifier's; the verifier validates the rest (TypeError
 * naming the option). `names` is every key the entry takes, the verifier's included (each entry
 * has its own verifier, and only `ipstamp/hono`'s loads node:crypto): any other is refused.
 */
export function splitHonoOptions(
  options: IpStampHonoOptions,
  names: Readonly<Record<string, true>>,
): { glue: HonoGlueSettings; verifier: CreateVerifierOptions } {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, names);
  const { required: _required, reportOnly: _reportOnly, echo: _echo, issuer, bodyLimit, connection, ...verifier } = options;
  if (bodyLimit !== undefined && !(Number.isSafeInteger(bodyLimit) && bodyLimit >= 0)) {
    throw new TypeError('bodyLimit must be a whole number of bytes');
  }
  if (connection !== undefined && typeof connection !== 'function') throw new TypeError('connection must be a function (c) => ConnectionHints');
  const glue: HonoGlueSettings = {
    required: flag(options, 'required', true),
    reportOnly: flag(options, 'reportOnly', false),
    echo: flag(options, 'echo', true),
    issuer,
    bodyLimit: bodyLimit ?? DEFAULT_BODY_LIMIT,
    connection,
  };
  return { glue, verifier };
}
