import type { FastifyRequest, RouteOptions } from 'fastify';
import { isCorsPreflight } from '../verify/cors-preflight.js';

/** What the hook does on one route: skip it, or verify with the stamp required or not. */
export type RoutePolicy = 'skip' | { required: boolean };

const REQUIRED: RoutePolicy = Object.freeze({ required: true });
const OPTIONAL: RoutePolicy = Object.freeze({ required: false });

function isValidSetting(setting: unknown): boolean {
  if (setting === undefined || setting === false) return true;
  if (typeof setting !== 'object' || setting === null || Array.isArray(setting)) return false;
  const keys = Object.keys(setting);
  const required = (setting as { required?: unknown }).required;
  return keys.every((k) => k === 'required') && (required === undefined || typeof required === 'boolean');
}

/** onRoute: a route whose `config.ipstamp` cannot be read fails at setup, not silently at request time. */
export function checkRouteConfig(route: RouteOptions): void {
  if (!isValidSetting(route.config?.ipstamp)) {
    throw new TypeError(`config.ipstamp of route ${route.method} ${route.url} must be false or { required: boolean }`);
  }
}

/**
 * Reads `config.ipstamp`; anything unreadable (a route added before the plugin) counts as the
 * default. A CORS preflight is skipped on every route: it never carries a stamp, and the
 * handler that answers it (the app's, @fastify/cors's) sees `request.ipStamp` null.
 */
export function routePolicy(request: FastifyRequest, requireStamp: boolean): RoutePolicy {
  if (isCorsPreflight(request.method, request.headers)) return 'skip';
  const setting: unknown = request.routeOptions.config.ipstamp;
  if (setting === false) return 'skip';
  const required = typeof setting === 'object' && setting !== null ? (setting as { required?: unknown }).required : undefined;
  if (required === false) return OPTIONAL;
  if (required === true) return REQUIRED;
  return requireStamp ? REQUIRED : OPTIONAL;
}
