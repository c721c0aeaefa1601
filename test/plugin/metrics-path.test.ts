import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { makeKey } from '../support/keys.js';

/**
 * The Prometheus route's path is the app's to choose: a fixed `/metrics` collides with another
 * plugin's (fastify-metrics, an app's own) and Fastify refuses to start.
 */
const key = await makeKey('HS256', 'metrics-hs');
const keys = { keys: [key.publicJwk] };

describe('metricsPath', () => {
  it('beside an app that already serves /metrics, the counters go to metricsPath and both answer', async () => {
    const app = Fastify();
    app.get('/metrics', { config: { ipstamp: false } }, async () => 'the app’s own');
    await app.register(ipstamp, { keys, metrics: true, metricsPath: '/internal/ipstamp/metrics' });
    await app.ready();
    const own = await app.inject({ url: '/metrics' });
    const ours = await app.inject({ url: '/internal/ipstamp/metrics' });
    expect([own.statusCode, own.body]).toEqual([200, 'the app’s own']);
    expect(ours.statusCode).toBe(200);
    expect(ours.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(ours.body).toMatch(/^ipstamp_rejected_total\{reason="missing"\} 0$/m);
    await app.close();
  });

  it('without metricsPath the route stays at /metrics; without metrics: true there is none at either path', async () => {
    const served = Fastify();
    await served.register(ipstamp, { keys, metrics: true });
    expect((await served.inject({ url: '/metrics' })).statusCode).toBe(200);
    const off = Fastify();
    await off.register(ipstamp, { keys, metricsPath: '/ops/metrics' });
    // stamped, so the answer is the router's: no such route
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: 'http://localhost:80/ops/metrics' });
    expect((await off.inject({ url: '/ops/metrics', headers: { 'client-ip-attestation': token } })).statusCode).toBe(404);
    await Promise.all([served.close(), off.close()]);
  });

  for (const bad of ['metrics', '/ops/:name', '/ops/*', '/ops?x=1', '/a b', '//metrics', '', 5]) {
    it(`refuses ${JSON.stringify(bad)} at setup with a TypeError naming metricsPath`, async () => {
      const app = Fastify();
      await expect(app.register(ipstamp, { keys, metrics: true, metricsPath: bad as string })).rejects.toThrow(/^metricsPath must be a path/);
      await app.close();
    });
  }
});
