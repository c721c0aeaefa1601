import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import type { IssuerPluginOptions } from './ticket-routes.js';

/** `fastify.register(ipstamp, options)`: the verifier's options, plus what the glue adds. */
export interface IpStampPluginOptions extends CreateVerifierOptions {
  /** Serve `GET /.well-known/ipstamp` (PROTOCOL.md §6). Default true. */
  echo?: boolean;
  /** Serve the counters at `GET /metrics` in Prometheus text format. Default false. */
  metrics?: boolean;
  /** Require a stamp on every route unless its config says otherwise. Default true. */
  requireStamp?: boolean;
  /** Also be a ticket issuer (PROTOCOL.md §7): serve POST /.well-known/ipstamp/ticket and the issuer JWK Set. */
  issuer?: IssuerPluginOptions;
}

export interface GlueSettings {
  readonly echo: boolean;
  readonly metrics: boolean;
  readonly requireStamp: boolean;
  readonly issuer: IssuerPluginOptions | undefined;
}

function flag(options: IpStampPluginOptions, name: keyof GlueSettings, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return value;
}

/**
 * Splits the plugin's own switches from the verifier's options; the verifier validates the
 * rest itself (TypeError naming the option). Fastify's own register options never reach it.
 */
export function splitPluginOptions(options: IpStampPluginOptions): { glue: GlueSettings; verifier: CreateVerifierOptions } {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const glue: GlueSettings = {
    echo: flag(options, 'echo', true),
    metrics: flag(options, 'metrics', false),
    requireStamp: flag(options, 'requireStamp', true),
    issuer: options.issuer,
  };
  const {
    echo: _echo,
    metrics: _metrics,
    requireStamp: _require,
    issuer: _issuer,
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _serializers,
    ...verifier
  } = options as IpStampPluginOptions & Record<'prefix' | 'logLevel' | 'logSerializers', unknown>;
  return { glue, verifier };
}
