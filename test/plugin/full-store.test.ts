import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/stamper.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { makeKey } from '../support/keys.js';
import { buildApp } from './app.js';

/**
 * Regression (issue 12 item 5, PROTOCOL §5 store row): `onStoreError: 'accept'` covers an
 * outage, never a full store — an attacker can fill a store, and a stamp it could not record
 * would then be accepted again and again.
 */
describe('a full replay store', () => {
  it("refuses new stamps and their replays with 503 store-unavailable even with onStoreError: 'accept'; metrics and log say full", async () => {
    const key = await makeKey('ES256', 'full-es');
    const { app, log } = await buildApp({
      keys: { keys: [key.publicJwk] },
      replayStore: new MemoryReplayStore({ maxEntries: 2 }),
      onStoreError: 'accept',
    });
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
    const send = (token: string) => app.inject({ url: '/orders', headers: { 'client-ip-attestation': token } });
    const stamp = () => stamper.stamp({ method: 'GET', url: 'http://localhost:80/orders' });

    expect((await send(await stamp())).statusCode).toBe(200);
    expect((await send(await stamp())).statusCode).toBe(200);
    const captured = await stamp();
    for (let i = 0; i < 3; i++) {
      const res = await send(captured);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ reason: 'store-unavailable' });
    }
    const counters = app.ipstamp.metrics();
    expect(counters.storeFull).toBe(3);
    expect(counters.replayUnchecked).toBe(0);
    expect(counters.rejected['store-unavailable']).toBe(3);
    expect(app.ipstamp.prometheus()).toContain('ipstamp_replay_store_full_total 3');
    expect(log.lines.filter((l) => String(l.msg).includes('replay store FULL'))).toHaveLength(3);
    await app.close();
  });
});
