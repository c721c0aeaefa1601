import type { FastifyRequest, RouteOptions } from 'fastify';
import { isCorsPreflight } from '../verify/cors-preflight.js';

/**
 * What the hook does on one route: skip it, or verify with the stamp required or not, and a
 * refusal answered (`reportOnly` false) or let through with its reason (true).
 */
export type RoutePolicy = 'skip' | { readonly required: boolean; readonly reportOnly: boolean };

// one frozen object per combination: reading a route's policy allocates nothing
const POLICIES: readonly (readonly RoutePolicy[])[] = [
  [Object.freeze({ required: false, reportOnly: false }), Object.freeze({ required: false, reportOnly: true })],
  [Object.freeze({ required: true, reportOnly: false }), Object.freeze({ required: true, reportOnly: true })],
];

const SETTING_KEYS: ReadonlySet<string> = new Set(['required', 'reportOnly']);

/**
 * A route setting, own only: read at request time, long after the plugin's options were checked,
 * so a value a prototype-pollution bug wrote onto Object.prototype since (`reportOnly: true`,
 * `ipstamp: false`) would loosen every route that does not set it itself.
 */
function own(object: object, key: string): unknown {
  return Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}

function isValidSetting(setting: unknown): boolean {
  if (setting === undefined || setting === false) return true;
  if (typeof setting !== 'object' || setting === null || Array.isArray(setting)) return false;
  const { required, reportOnly } = setting as { required?: unknown; reportOnly?: unknown };
  return (
    Object.keys(setting).every((k) => SETTING_KEYS.has(k)) &&
    (required === undefined || typeof required === 'boolean') &&
    (reportOnly === undefined || typeof reportOnly === 'boolean')
  );
}

/** onRoute: a route whose `config.ipstamp` cannot be read fails at setup, not silently at request time. */
export function checkRouteConfig(route: RouteOptions): void {
  if (!isValidSetting(route.config?.ipstamp)) {
    throw new TypeError(`config.ipstamp of route ${route.method} ${route.url} must be false or { required: boolean, reportOnly: boolean } (each optional)`);
  }
}

/** True when the route's config lets refusals through while the plugin's default would not. */
export function routeLoosensToReportOnly(route: RouteOptions, reportOnly: boolean): boolean {
  const setting = route.config === undefined ? undefined : own(route.config, 'ipstamp');
  return !reportOnly && typeof setting === 'object' && setting !== null && own(setting, 'reportOnly') === true;
}

/** The onSend hook Fastify appends to the HEAD route it adds (fastify/lib/head-route.js). */
const EXPOSED_HEAD_ON_SEND = 'headRouteOnSendHandler';

/**
 * The HEAD route Fastify adds beside a GET (`exposeHeadRoutes`, on by default) is a copy of the
 * GET's options, so a warning about the GET covers it. Fastify marks it on the route's context
 * (`kRouteByFastify`), made after the onRoute hooks ran; what those hooks see is the onSend hook
 * it appends, by name: an app's own HEAD route has no such hook. Were Fastify to rename it, the
 * copy would be warned of again, nothing worse (test/plugin/report-only.test.ts pins it).
 */
export function isExposedHeadRoute(route: RouteOptions): boolean {
  if (route.method !== 'HEAD') return false;
  const hooks: readonly unknown[] = Array.isArray(route.onSend) ? route.onSend : [route.onSend];
  return hooks.some((hook) => typeof hook === 'function' && hook.name === EXPOSED_HEAD_ON_SEND);
}

/**
 * Reads `config.ipstamp`; anything unreadable (a route added before the plugin) counts as the
 * default. A CORS preflight is skipped on every route: it never carries a stamp, and the
 * handler that answers it (the app's, @fastify/cors's) sees `request.ipStamp` null.
 */
export function routePolicy(request: FastifyRequest, requireStamp: boolean, reportOnly: boolean): RoutePolicy {
  if (isCorsPreflight(request.method, request.headers)) return 'skip';
  const setting = own(request.routeOptions.config, 'ipstamp');
  if (setting === false) return 'skip';
  let required = requireStamp;
  let reporting = reportOnly;
  if (typeof setting === 'object' && setting !== null) {
    const routeRequired = own(setting, 'required');
    const routeReportOnly = own(setting, 'reportOnly');
    if (typeof routeRequired === 'boolean') required = routeRequired;
    if (typeof routeReportOnly === 'boolean') reporting = routeReportOnly;
  }
  return POLICIES[required ? 1 : 0]![reporting ? 1 : 0]!;
}
