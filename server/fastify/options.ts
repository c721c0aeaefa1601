import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import type { IssuerPluginOptions } from './ticket-routes.js';

/** `fastify.register(ipstamp, options)`: the verifier's options, plus what the glue adds. */
export interface IpStampPluginOptions extends CreateVerifierOptions {
  /** Serve `GET /.well-known/ipstamp` (PROTOCOL.md §6). Default true. */
  echo?: boolean;
  /** Serve the counters in Prometheus text format at `GET metricsPath`. Default false. */
  metrics?: boolean;
  /** Where `metrics: true` serves them: `/metrics` collides with other plugins (fastify-metrics…). Default `/metrics`. */
  metricsPath?: string;
  /** Require a stamp on every route unless its config says otherwise. Default true. */
  requireStamp?: boolean;
  /** Also be a ticket issuer (PROTOCOL.md §7): serve POST /.well-known/ipstamp/ticket and the issuer JWK Set. */
  issuer?: IssuerPluginOptions;
}

export interface GlueSettings {
  readonly echo: boolean;
  readonly metrics: boolean;
  readonly metricsPath: string;
  readonly requireStamp: boolean;
  readonly issuer: IssuerPluginOptions | undefined;
}

export const DEFAULT_METRICS_PATH = '/metrics';

/** A route path of its own: absolute, no query or fragment, nothing Fastify would read as a parameter. */
function routePath(value: unknown): string {
  if (value === undefined) return DEFAULT_METRICS_PATH;
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~!$&'()+,;=@/-]*$/.test(value) || value.includes('//')) {
    throw new TypeError("metricsPath must be a path such as '/metrics' or '/internal/ipstamp/metrics' (no query, parameter or wildcard)");
  }
  return value;
}

function flag(options: IpStampPluginOptions, name: 'echo' | 'metrics' | 'requireStamp', fallback: boolean): boolean {
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
    metricsPath: routePath(options.metricsPath),
    requireStamp: flag(options, 'requireStamp', true),
    issuer: options.issuer,
  };
  const {
    echo: _echo,
    metrics: _metrics,
    metricsPath: _metricsPath,
    requireStamp: _require,
    issuer: _issuer,
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _serializers,
    ...verifier
  } = options as IpStampPluginOptions & Record<'prefix' | 'logLevel' | 'logSerializers', unknown>;
  return { glue, verifier };
}
