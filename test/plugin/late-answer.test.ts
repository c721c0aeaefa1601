/**
 * Someone else answered first: with the verdict awaited in a promise (here a gated store, as a
 * Redis round trip), another plugin's hook answers the request, hijacks it, or the client goes
 * away, and only then does the verdict arrive. The plugin's late refusal must write nothing and
 * throw nothing (Fastify logs FST_ERR_REP_ALREADY_SENT, with no stamp in the line), a late
 * acceptance must not run the handler, and the stamp stays consumed (PROTOCOL.md §5, step 10).
 * The key, the unhandled-rejection check and the client that leaves are Hono's file's too
 * (test/support/late-answer.ts); the app is Fastify's own.
 */
import { generateKeyPairSync } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { describe, expect, it } from 'vitest';
import { generateStampKey } from '../../client/browser-key.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { gatedStore, settled, type GatedStore } from '../support/gated-store.js';
import { stampedOnce } from '../support/raw-exchange.js';
import { lateAnswerFile, leaveWhileAwaited } from '../support/late-answer.js';
import { captureLog, type CapturedLog } from './app.js';

const TICKET = '/.well-known/ipstamp/ticket';
const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };
const apps: FastifyInstance[] = [];
const file = lateAnswerFile(() => Promise.all(apps.splice(0).map((app) => app.close())));
const { stampFor } = file;

interface LateApp {
  origin: string;
  app: FastifyInstance;
  log: CapturedLog;
  /** Paths the route handler ran for. */
  handled: string[];
  /** Paths Fastify's onTimeout hook ran for. */
  timedOut: string[];
}

/** The plugin over `gate` (a ticket issuer's too), behind a hook that `interfere`s once the store has been asked. */
async function lateApp(gate: GatedStore, interfere: (reply: FastifyReply) => void, connectionTimeout?: number): Promise<LateApp> {
  const { stream, log } = captureLog();
  const app = Fastify({ logger: { level: 'info', stream }, connectionTimeout });
  apps.push(app);
  const timedOut: string[] = [];
  app.addHook('onTimeout', (request, _reply, done) => {
    timedOut.push(request.url);
    done();
  });
  // another plugin's hook, ahead of ipstamp's: a timeout that answers while the request is still in the chain
  app.addHook('onRequest', (_request, reply, done) => {
    void gate.asked.then(() => interfere(reply));
    done();
  });
  await app.register(ipstamp, { keys: { keys: [file.key.publicJwk] }, replayStore: gate.store, issuer: { key: issuerKey } });
  const handled: string[] = [];
  app.get('/orders', async (request) => {
    handled.push(request.url);
    return { ipStamp: request.ipStamp };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { origin: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, app, log, handled, timedOut };
}

describe('the Fastify plugin when someone else answered first', () => {
  it.each([
    ['refused (a replay)', false],
    ['accepted', true],
  ])('a verdict %s after another hook answered: one answer (the hook’s), no handler, nothing thrown, no stamp in the log', async (_verdict, fresh) => {
    const gate = gatedStore();
    const { origin, log, handled } = await lateApp(gate, (reply) => void reply.code(503).send({ error: 'timed out' }));
    const token = await stampFor(origin);
    const answer = await stampedOnce(origin, token);
    expect(answer).toEqual({ status: 503, body: '{"error":"timed out"}' });
    gate.answer(fresh);
    await settled();
    expect(handled).toEqual([]);
    // a refusal on an answered reply is Fastify's warning, naming the route; an acceptance is nothing at all
    const alreadySent = log.lines.filter((line) => (line.err as { code?: string } | undefined)?.code === 'FST_ERR_REP_ALREADY_SENT');
    expect(alreadySent.map((line) => [line.level, (line.err as { message: string }).message])).toEqual(
      fresh ? [] : [[40, 'Reply was already sent, did you forget to "return reply" in "/orders" (GET)?']],
    );
    expect(log.text()).not.toContain(token);
    expect(log.text()).not.toContain(token.split('.')[2]);
  });

  it.each([
    ['refused (a replay)', false],
    ['issued', true],
  ])('a ticket %s after another hook answered: one answer (the hook’s), nothing thrown', async (_verdict, fresh) => {
    const gate = gatedStore();
    const { origin, log } = await lateApp(gate, (reply) => void reply.code(503).send({ error: 'timed out' }));
    const client = await generateStampKey({ alg: 'ES256' });
    const proof = await createTicketRequestProof(client, `${origin}${TICKET}`);
    expect(await stampedOnce(origin, proof, { method: 'POST', path: TICKET })).toEqual({ status: 503, body: '{"error":"timed out"}' });
    gate.answer(fresh);
    await settled();
    // the route's late answer is Fastify's one warning, naming the route; the log holds no proof and no ticket
    const late = log.lines.filter((line) => line.level === 40);
    expect(late.map((line) => (line.err as { message: string }).message)).toEqual([
      'Reply was already sent, did you forget to "return reply" in "/.well-known/ipstamp/ticket" (POST)?',
    ]);
    expect(log.lines.map((line) => line.msg).filter((msg) => String(msg).startsWith('ipstamp:'))).toEqual([
      fresh ? 'ipstamp: ticket issued' : 'ipstamp: ticket refused',
    ]);
    expect(log.text()).not.toContain(proof.split('.')[2]);
    expect(log.text()).not.toMatch(/"ticket":"ey/);
  });

  it('a refusal after another hook hijacked the reply and wrote its own answer on the raw response', async () => {
    const gate = gatedStore();
    const { origin, handled } = await lateApp(gate, (reply) => {
      reply.hijack();
      reply.raw.writeHead(504, { 'content-type': 'text/plain' }).end('gateway timeout');
    });
    const answer = await stampedOnce(origin, await stampFor(origin));
    expect(answer).toEqual({ status: 504, body: 'gateway timeout' });
    gate.answer(false);
    await settled();
    expect(handled).toEqual([]);
  });

  it('a reply hijacked in an earlier hook: the plugin never checks the stamp (the store is never asked) and writes nothing', async () => {
    const gate = gatedStore();
    let asked = false;
    void gate.asked.then(() => (asked = true));
    const { stream } = captureLog();
    const app = Fastify({ logger: { level: 'info', stream } });
    apps.push(app);
    app.addHook('onRequest', (_request, reply, done) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/plain' }).end('hijacked');
      done();
    });
    await app.register(ipstamp, { keys: { keys: [file.key.publicJwk] }, replayStore: gate.store });
    app.get('/orders', async () => 'handler');
    await app.listen({ host: '127.0.0.1', port: 0 });
    const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    expect(await stampedOnce(origin, await stampFor(origin))).toEqual({ status: 200, body: 'hijacked' });
    await settled();
    expect(asked).toBe(false);
  });

  it('a client gone while its verdict is awaited: nothing thrown, nothing written, and its stamp stays consumed', async () => {
    const gate = gatedStore();
    const { origin, handled } = await lateApp(gate, () => undefined);
    const token = await stampFor(origin);
    await leaveWhileAwaited(origin, token, gate.asked);
    gate.answer(true);
    await settled();
    // Fastify runs the handler of a request whose client left during a hook (its own behaviour, as for any async hook)
    expect(handled).toEqual(['/orders']);
    // PROTOCOL.md §5 step 10: the stamp passed the store, so its jti is consumed: a second send is a replay
    const again = await stampedOnce(origin, token);
    expect([again.status, JSON.parse(again.body).reason]).toEqual([401, 'replay']);
  });

  it('connectionTimeout cuts the connection while the verdict is awaited: onTimeout runs, the late refusal is dropped, nothing thrown', async () => {
    const gate = gatedStore();
    const { origin, log, handled, timedOut } = await lateApp(gate, () => undefined, 1000); // long enough for a loaded machine to send the request first
    const token = await stampFor(origin);
    const cut = await stampedOnce(origin, token).catch((error: NodeJS.ErrnoException) => error.code);
    expect(cut).toBe('ECONNRESET');
    gate.answer(false);
    await settled();
    expect([timedOut, handled]).toEqual([['/orders'], []]);
    // the refusal is counted and logged as any (the reason, never the stamp), then goes nowhere
    expect(log.lines.filter((line) => line.level !== 30).map((line) => line.msg)).toEqual([]);
    expect(log.lines.filter((line) => line.msg === 'ipstamp: stamp rejected').map((line) => (line.ipstamp as { reason: string }).reason)).toEqual(['replay']);
    expect(log.text()).not.toContain(token.split('.')[2]);
  });

  it('app.close() while a verdict is awaited waits for that request, answers it, then resolves', async () => {
    const gate = gatedStore();
    const { origin, app, handled } = await lateApp(gate, () => undefined);
    const pending = stampedOnce(origin, await stampFor(origin));
    await gate.asked;
    const steps: string[] = [];
    const closing = app.close().then(() => steps.push('closed'));
    await settled();
    steps.push('answered');
    gate.answer(true);
    const answer = await pending;
    await closing;
    expect(steps).toEqual(['answered', 'closed']);
    expect(answer.status).toBe(200);
    expect(handled).toEqual(['/orders']);
  });
});
