/**
 * Someone else answered first, on Hono over @hono/node-server: with the verdict awaited in a
 * promise (a gated store, as a Redis round trip), a middleware ahead races `next()` against a
 * timeout and answers first, or the client goes away; only then does the verdict arrive. The
 * late refusal is dropped (the timeout's answer is the only one), a late acceptance runs the
 * handler as Hono runs any `next()` that lost the race, nothing is thrown and the server keeps serving.
 * The key, the unhandled-rejection check and the client that leaves are the Fastify plugin's
 * file's too (test/support/late-answer.ts); the app is Hono's own.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as webIpstamp } from '../../server/hono/web.js';
import { gatedStore, settled, type GatedStore } from '../support/gated-store.js';
import { stampedOnce } from '../support/raw-exchange.js';
import { lateAnswerFile, leaveWhileAwaited } from '../support/late-answer.js';

const servers: ServerType[] = [];
const file = lateAnswerFile(() => Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done)))));
const { stampFor } = file;

type Entry = 'ipstamp/hono' | 'ipstamp/hono/web';

function middlewareOf(entry: Entry, gate: GatedStore): MiddlewareHandler<{ Variables: IpStampVariables }> {
  const options = { keys: { keys: [file.key.publicJwk] }, replayStore: gate.store };
  if (entry === 'ipstamp/hono') return ipstamp(options);
  // the web verifier's peer: @hono/node-server's Node socket, as a runtime preset would give it
  return webIpstamp({ ...options, connection: (c) => ({ l3: (c.env as { incoming: { socket: { remoteAddress: string } } }).incoming.socket.remoteAddress }) });
}

interface LateApp {
  origin: string;
  /** What the route handler saw, one entry per run. */
  handled: string[];
  /** Every error Hono's onError saw. */
  errors: string[];
}

/** The middleware over `gate`, behind `ahead` (when given). */
async function lateApp(entry: Entry, gate: GatedStore, ahead?: MiddlewareHandler): Promise<LateApp> {
  const app = new Hono<{ Variables: IpStampVariables }>();
  const handled: string[] = [];
  const errors: string[] = [];
  app.onError((error, c) => {
    errors.push(error.message);
    return c.text('error', 500);
  });
  if (ahead) app.use(ahead);
  app.use(middlewareOf(entry, gate));
  app.get('/orders', (c) => {
    handled.push(c.get('ipStamp')?.ip ?? 'null');
    return c.json({ ipStamp: c.get('ipStamp') });
  });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, handled, errors };
}

/** What hono/timeout and its kind do: race `next()` and answer 503 when the other side wins. */
function timeoutWhenAsked(gate: GatedStore): MiddlewareHandler {
  return async (_c, next) => {
    const timedOut = gate.asked.then(() => new Response('timed out', { status: 503 }));
    return Promise.race([next().then(() => undefined), timedOut]);
  };
}

describe.each<Entry>(['ipstamp/hono', 'ipstamp/hono/web'])('%s when someone else answered first', (entry) => {
  it('a refusal decided after a timeout middleware answered: the timeout’s answer alone, no handler, nothing thrown', async () => {
    const gate = gatedStore();
    const { origin, handled, errors } = await lateApp(entry, gate, timeoutWhenAsked(gate));
    expect(await stampedOnce(origin, await stampFor(origin))).toEqual({ status: 503, body: 'timed out' });
    gate.answer(false);
    await settled();
    expect([handled, errors]).toEqual([[], []]);
    // the server still serves
    expect((await fetch(`${origin}/.well-known/ipstamp`)).status).toBe(200);
  });

  it('an acceptance after a timeout middleware answered: the handler runs (the lost race of next()), its answer goes nowhere, nothing thrown', async () => {
    const gate = gatedStore();
    const { origin, handled, errors } = await lateApp(entry, gate, timeoutWhenAsked(gate));
    expect(await stampedOnce(origin, await stampFor(origin))).toEqual({ status: 503, body: 'timed out' });
    gate.answer(true);
    await settled();
    expect([handled, errors]).toEqual([['127.0.0.1'], []]);
  });

  it.each([
    ['refused (a replay)', false],
    ['accepted', true],
  ])('a client gone while its verdict is awaited, then %s: nothing thrown, the server serves on, the stamp stays consumed', async (_verdict, fresh) => {
    const gate = gatedStore();
    const { origin, errors } = await lateApp(entry, gate);
    const token = await stampFor(origin);
    await leaveWhileAwaited(origin, token, gate.asked);
    gate.answer(fresh);
    await settled();
    expect(errors).toEqual([]);
    expect((await fetch(`${origin}/.well-known/ipstamp`)).status).toBe(200);
    // PROTOCOL.md §5 step 10: the pair went into the store (or was there), so a second send is a replay
    const again = await stampedOnce(origin, token);
    expect([again.status, JSON.parse(again.body).reason]).toEqual([401, 'replay']);
  });
});
