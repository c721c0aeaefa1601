import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { MemoryReplayStore } from '../../server/index.js';
import { buildApp } from '../plugin/app.js';
import { makeKey } from '../support/keys.js';

/**
 * docs/fastify.md: each rejection is logged once, at `info`, with the reason, the kid and the
 * hints, never the token; one because the replay store is full, at `warn`. An operator who
 * alerts on `warn` alerts on a full store and not on every forged stamp.
 */
describe('docs/fastify.md: how refusals are logged', () => {
  it('a refused stamp: one info line (reason, kid, hints); a store-full refusal: one warn line; neither holds the token', async () => {
    const key = await makeKey('HS256', 'docs-fastify');
    const { app, log } = await buildApp({ keys: { keys: [key.publicJwk] }, replayStore: new MemoryReplayStore({ maxEntries: 1 }) });
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
    const stamp = () => stamper.stamp({ method: 'GET', url: 'http://localhost:80/orders' });
    const send = async (token: string) => (await app.inject({ url: '/orders', headers: { 'client-ip-attestation': token } })).statusCode;

    const first = await stamp();
    const second = await stamp();
    expect([await send(first), await send(first), await send(second)]).toEqual([200, 401, 503]);

    const ipstampLines = log.lines.filter((line) => String(line.msg).startsWith('ipstamp:'));
    expect(ipstampLines.map((line) => [line.level, line.msg, (line.ipstamp as { reason?: string }).reason])).toEqual([
      [30, 'ipstamp: stamp rejected', 'replay'],
      [40, 'ipstamp: replay store FULL: stamp refused (store-unavailable)', 'store-unavailable'],
    ]);
    expect(ipstampLines[0]!.ipstamp).toMatchObject({ kid: 'docs-fastify', hints: { l3: '127.0.0.1' } });
    expect(log.text()).not.toContain(first.split('.')[2]);
    expect(log.text()).not.toContain(second.split('.')[2]);
    await app.close();
  });
});
