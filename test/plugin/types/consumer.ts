/**
 * Compiled by types.test.ts against the BUILT package (`ipstamp/fastify` → dist/*.d.ts), the
 * way an app sees it. Every line either must compile or carries @ts-expect-error: if the
 * shipped `declare module 'fastify'` augmentation stops reaching users, this file fails.
 */
import Fastify, { type FastifyContextConfig } from 'fastify';
import ipstamp, { ipstamp as named, type IpStampCounters, type Reason, type Verdict } from 'ipstamp/fastify';
import type { Verdict as ServerVerdict } from 'ipstamp/server';

const app = Fastify();
await app.register(ipstamp, { keys: { keys: [] }, echo: false, metrics: true, required: true });
// the deprecated name still type-checks (a JS or older app keeps working)
await Fastify().register(ipstamp, { keys: { keys: [] }, requireStamp: false });
// ipstamp/fastify's Verdict is the verifier's
const sameVerdict: ServerVerdict | null = null as Verdict | null;
void sameVerdict;
void named;

app.get('/verified', async (request) => {
  const verdict: Verdict | null = request.ipStamp;
  if (request.ipStamp !== null) {
    const ip: string = request.ipStamp.ip;
    const agreement: 'match' | 'mismatch' | 'unverifiable' = request.ipStamp.agreement;
    const observed: string | undefined = request.ipStamp.hints.observed;
    void [ip, agreement, observed];
  }
  // @ts-expect-error ipStamp is Verdict | null, never a string
  const wrong: string = request.ipStamp;
  void wrong;
  return verdict;
});

app.get('/optional', { config: { ipstamp: { required: false } } }, async () => 'ok');
// report-only: the plugin option and the route's override; the reason is the problem responses' Reason
await Fastify().register(ipstamp, { keys: { keys: [] }, reportOnly: true });
app.get('/reported', { config: { ipstamp: { required: true, reportOnly: true } } }, async (request) => {
  const refusal: Reason | null = request.ipStampRefusal;
  // @ts-expect-error ipStampRefusal is a Reason or null, never any string
  const anyString: 'not-a-reason' | null = request.ipStampRefusal;
  return [refusal, anyString];
});
// @ts-expect-error reportOnly is a boolean
app.get('/bad-report-only', { config: { ipstamp: { reportOnly: 'yes' } } }, async () => 'no');
app.get('/skipped', { config: { ipstamp: false } }, async () => 'ok');
// (`ipstamp: true` is not caught: Fastify infers ContextConfig from the literal and intersects;
// the onRoute check rejects it at setup instead)
// @ts-expect-error required is a boolean
app.get('/bad-required', { config: { ipstamp: { required: 'no' } } }, async () => 'no');
// A misspelt key inline (`{ requird: false }`) is not a type error: Fastify infers the route's
// ContextConfig from the literal and intersects it with FastifyContextConfig, so no property is
// excess; the onRoute check throws a TypeError at setup instead. Typed config catches it:
// @ts-expect-error a misspelt key in config checked against FastifyContextConfig
app.get('/typo-satisfies', { config: { ipstamp: { requird: false } } satisfies FastifyContextConfig }, async () => 'no');
// @ts-expect-error a misspelt key in a config annotated as FastifyContextConfig
const typoConfig: FastifyContextConfig = { ipstamp: { requird: false } };
// @ts-expect-error a misspelt key with the route's ContextConfig given explicitly
app.get<{ Reply: string }, FastifyContextConfig>('/typo-generic', { config: { ipstamp: { requird: false } } }, async () => 'no');
void typoConfig;

const counters: IpStampCounters = app.ipstamp.metrics();
const missing: number = counters.rejected.missing;
const matched: number = app.ipstamp.metrics().accepted.match;
const text: string = app.ipstamp.prometheus();
void [missing, matched, text, app.ipstamp.verifier.verify];

// @ts-expect-error a misspelt option is caught
await app.register(ipstamp, { keys: { keys: [] }, ecko: false });
// @ts-expect-error keys are required
await app.register(ipstamp, {});
