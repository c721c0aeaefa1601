/**
 * `ipstamp/fastify`: the Fastify 5 plugin — verification hooks, the echo, ticket and metrics
 * routes, problem+json refusals, and the `request.ipStamp` type augmentation.
 */
export { ipstamp, ipstamp as default, type IpStampPluginOptions, type IpStampDecoration, type IpStampRouteConfig } from './plugin.js';
export { prometheusText, type IpStampCounters } from './metrics.js';
export { problemOf, PROBLEM_CONTENT_TYPE, type IpStampProblem } from './problem.js';
export { serviceProblemOf, SERVICE_REASON_STATUS, type ServiceProblem } from './problem.js';
export { keepRawBody } from './raw-body.js';
export { rateLimitKeyOf } from './rate-limit-key.js';
export type { IssuerPluginOptions } from './ticket-routes.js';
export type { Verdict } from '../verify/types.js';
export type { Reason } from '../../shared/reasons.js';
