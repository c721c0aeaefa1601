import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { IpStampDecoration } from './types.js';
import { IpStampMetrics, prometheusText } from './metrics.js';
import { splitPluginOptions, type IpStampPluginOptions } from './options.js';
import { installRawBodyParsers } from './raw-body.js';
import { checkRouteConfig, isExposedHeadRoute, routeLoosensToReportOnly } from './route-config.js';
import { registerEchoRoute, registerMetricsRoute } from './routes.js';
import { createVerifyHooks } from './verify-hook.js';
import { createVerifier } from '../verify/create-verifier.js';
import { compiledOptionsOf } from '../verify/verifier.js';
import { trackPeerAddresses } from '../hints/peer-address.js';
import { keepTickObjectShapes } from '../runtime/tick-shapes.js';
import { loosenedPolicies, loosenedPoliciesWarning, loosenedPolicyNames } from '../verify/loosened-policies.js';

export type { IpStampPluginOptions } from './options.js';
export type { IpStampDecoration, IpStampRouteConfig } from './types.js';

/**
 * The Fastify glue: verifies every request in a preValidation hook (after body parsing, so
 * `cdg` is checked against the exact bytes), fills `request.ipStamp`, answers rejections as
 * problem+json, serves the echo route and, on request, Prometheus counters.
 */
async function ipstampPlugin(fastify: FastifyInstance, options: IpStampPluginOptions): Promise<void> {
  const { glue, verifier: verifierOptions } = splitPluginOptions(options);
  // an issuer's set that cannot be fetched, or has keys it cannot use, is logged: otherwise its
  // tickets are bad-ticket with no word of why
  const verifier = createVerifier({
    ...verifierOptions,
    onIssuerKeysError:
      verifierOptions.onIssuerKeysError ??
      ((error) => fastify.log.warn({ ipstamp: { issuer: error.issuer, code: error.code } }, `ipstamp: issuer keys: ${error.message}`)),
  });
  const metrics = new IpStampMetrics();

  const policies = { ...verifier.settings, reportOnly: glue.reportOnly };
  const loosenedWarning = loosenedPoliciesWarning(policies);
  if (loosenedWarning !== undefined) fastify.log.warn({ ipstamp: { loosened: loosenedPolicyNames(loosenedPolicies(policies)) } }, loosenedWarning);

  // l3 is read at accept (PROTOCOL §4): a late read of a reset connection finds nothing
  trackPeerAddresses(fastify.server);
  // keeps every later nextTick on V8's fast path (server/runtime/tick-shapes.ts)
  keepTickObjectShapes();
  installRawBodyParsers(fastify);
  const decoration: IpStampDecoration = {
    verifier,
    metrics: () => metrics.snapshot(),
    prometheus: () => prometheusText(metrics.snapshot()),
  };
  fastify.decorate('ipstamp', decoration);
  fastify.decorateRequest('ipStamp', null);
  fastify.decorateRequest('ipStampRefusal', null);

  fastify.addHook('onRoute', (route) => {
    checkRouteConfig(route);
    // a route that lets refusals through under a plugin that does not is a loosening of its own:
    // said once per route the app declared, not again for the HEAD copy Fastify adds to a GET
    if (routeLoosensToReportOnly(route, glue.reportOnly) && !isExposedHeadRoute(route)) {
      const where = `${String(route.method)} ${route.url}`;
      fastify.log.warn(
        { ipstamp: { loosened: loosenedPolicyNames(loosenedPolicies({ reportOnly: true })), route: where } },
        `${loosenedPoliciesWarning({ reportOnly: true })} (route ${where})`,
      );
    }
  });
  const hooks = createVerifyHooks({ verifier, metrics, requireStamp: glue.required, reportOnly: glue.reportOnly });
  fastify.addHook('preParsing', hooks.preParsing);
  fastify.addHook('preValidation', hooks.preValidation);

  if (glue.echo) registerEchoRoute(fastify, verifier);
  if (glue.issuer) {
    // loaded only for an issuer: its schemas (zod) cost a server that
    // merely verifies CPU on every request once built (bench/README.md, "HTTP cost")
    const { registerTicketRoutes } = await import('./ticket-routes.js');
    registerTicketRoutes(fastify, glue.issuer, verifierOptions, verifier, metrics);
  }
  if (glue.metrics) registerMetricsRoute(fastify, metrics, glue.metricsPath);

  // a store the plugin made is the plugin's to close; one passed in belongs to the caller
  if (verifierOptions.replayStore === undefined) {
    const store = compiledOptionsOf(verifier).replayStore;
    fastify.addHook('onClose', async () => {
      await store.close?.();
    });
  }
}

export const ipstamp: FastifyPluginAsync<IpStampPluginOptions> = fp(ipstampPlugin, { fastify: '5.x', name: 'ipstamp' });
export default ipstamp;
