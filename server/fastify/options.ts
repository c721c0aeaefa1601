import type { RegisterOptions } from 'fastify';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { CREATE_VERIFIER_OPTION_NAMES, type CreateVerifierOptions } from '../verify/create-verifier.js';
import type { IssuerPluginOptions } from './ticket-routes.js';

/** `fastify.register(ipstamp, options)`: the verifier's options, plus what the glue adds. */
export interface IpStampPluginOptions extends CreateVerifierOptions {
  /** Serve `GET /.well-known/ipstamp` (PROTOCOL.md §6). Default true. */
  echo?: boolean;
  /** Serve the counters in Prometheus text format at `GET metricsPath`. Default false. */
  metrics?: boolean;
  /** Where `metrics: true` serves them: `/metrics` collides with other plugins (fastify-metrics…). Default `/metrics`. */
  metricsPath?: string;
  /**
   * Require a stamp on every route unless its config (`config.ipstamp`) says otherwise. Default
   * true; false lets an unstamped request through with `request.ipStamp` null. The same name
   * as in `ipstamp/node`, `ipstamp/hono` and the route config.
   */
  required?: boolean;
  /**
   * @deprecated The former name of `required`: use `required`. Still accepted; given beside
   * `required` with another value, registration fails with a TypeError.
   */
  requireStamp?: boolean;
  /**
   * Report, do not refuse: a stamp the verifier refuses (any reason, `missing` on a required
   * route included) lets the request through as an unstamped one (`request.ipStamp` null), with
   * the reason in `request.ipStampRefusal`; counted as a refusal all the same. Default false; a
   * route's `config.ipstamp.reportOnly` overrides it. Warned of at registration.
   */
  reportOnly?: boolean;
  /** Also be a ticket issuer (PROTOCOL.md §7): serve POST /.well-known/ipstamp/ticket and the issuer JWK Set. */
  issuer?: IssuerPluginOptions;
}

export interface GlueSettings {
  readonly echo: boolean;
  readonly metrics: boolean;
  readonly metricsPath: string;
  /** `required`, or its deprecated name `requireStamp`. */
  readonly required: boolean;
  readonly reportOnly: boolean;
  readonly issuer: IssuerPluginOptions | undefined;
}

/**
 * Every key the plugin takes: its own, the verifier's (passed on to it), and Fastify's own
 * register options (`prefix`, `logLevel`, `logSerializers`), which arrive beside them.
 */
const PLUGIN_OPTION_NAMES: OptionNames<IpStampPluginOptions & RegisterOptions> = Object.freeze({
  ...CREATE_VERIFIER_OPTION_NAMES,
  echo: true,
  metrics: true,
  metricsPath: true,
  required: true,
  requireStamp: true,
  reportOnly: true,
  issuer: true,
  prefix: true,
  logLevel: true,
  logSerializers: true,
});

export const DEFAULT_METRICS_PATH = '/metrics';

/** A route path of its own: absolute, no query or fragment, nothing Fastify would read as a parameter. */
function routePath(value: unknown): string {
  if (value === undefined) return DEFAULT_METRICS_PATH;
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~!$&'()+,;=@/-]*$/.test(value) || value.includes('//')) {
    throw new TypeError("metricsPath must be a path such as '/metrics' or '/internal/ipstamp/metrics' (no query, parameter or wildcard)");
  }
  return value;
}

function flag(options: IpStampPluginOptions, name: 'echo' | 'metrics' | 'required' | 'requireStamp' | 'reportOnly', fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return value;
}

/** `required`, or `requireStamp` (its deprecated name); both, with different values, is a mistake to report. */
function requiredFlag(options: IpStampPluginOptions): boolean {
  const required = flag(options, 'required', true);
  const requireStamp = flag(options, 'requireStamp', required);
  if (options.required !== undefined && options.requireStamp !== undefined && required !== requireStamp) {
    throw new TypeError('required and requireStamp (its deprecated name) disagree: give only required');
  }
  return options.required === undefined ? requireStamp : required;
}

/**
 * Splits the plugin's own switches from the verifier's options; the verifier validates the
 * rest itself (TypeError naming the option). Fastify's own register options never reach it.
 * A key that is none of these is refused (`unknown option "…"`): a typo must not keep a default.
 */
export function splitPluginOptions(options: IpStampPluginOptions): { glue: GlueSettings; verifier: CreateVerifierOptions } {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, PLUGIN_OPTION_NAMES);
  const glue: GlueSettings = {
    echo: flag(options, 'echo', true),
    metrics: flag(options, 'metrics', false),
    metricsPath: routePath(options.metricsPath),
    required: requiredFlag(options),
    reportOnly: flag(options, 'reportOnly', false),
    issuer: options.issuer,
  };
  const {
    echo: _echo,
    metrics: _metrics,
    metricsPath: _metricsPath,
    required: _required,
    requireStamp: _requireStamp,
    reportOnly: _reportOnly,
    issuer: _issuer,
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _serializers,
    ...verifier
  } = options as IpStampPluginOptions & RegisterOptions;
  return { glue, verifier };
}
