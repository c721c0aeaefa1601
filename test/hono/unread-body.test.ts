import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { createWebVerifier } from '../../server/web/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

/**
 * A GET's or HEAD's body never reaches the web Request (@hono/node-server and web runtimes drop
 * it), so the glue must not read "no bytes" from that Request as the empty body (review of
 * 2026-12-06): a stamp whose cdg covers the empty body passed with a GET that carried one.
 */
let key: TestKeyPair;
let stamper: Stamper;
let server: ServerType;
let port: number;

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
  const app = new Hono<{ Variables: IpStampVariables }>();
  app.use(ipstamp({ keys: { keys: [key.publicJwk] } }));
  app.all('/orders', (c) => c.json({ kid: c.get('ipStamp')?.kid ?? null }));
  server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.close();
});

/** A raw HTTP/1.1 request (a GET with a body cannot be sent with fetch); resolves with status and body. */
async function raw(method: string, body: string): Promise<{ status: number; body: string }> {
  const stamp = await stamper.stamp({ method, url: `http://127.0.0.1:${port}/orders` });
  const head = `${method} /orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nclient-ip-attestation: ${stamp}\r\n${body === '' ? '' : `Content-Length: ${body.length}\r\n`}Connection: close\r\n\r\n`;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' }, () => socket.end(head + body));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  return { status: Number(answer.slice(9, 12)), body: answer.slice(answer.indexOf('\r\n\r\n') + 4) };
}

describe('a cdg over the empty body, with a body the Request never carried', () => {
  it('Hono on @hono/node-server: a GET with a body is refused; the same GET without one is accepted', async () => {
    const withBody = await raw('GET', 'EVIL!');
    expect([withBody.status, JSON.parse(withBody.body).reason]).toEqual([401, 'binding-mismatch']);
    const without = await raw('GET', '');
    expect([without.status, JSON.parse(without.body)]).toEqual([200, { kid: 'k1' }]);
  });

  it('the web verifier: a GET whose headers announce a body the runtime dropped is refused', async () => {
    const verifier = createWebVerifier({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore() });
    const url = 'https://api.example.com/orders';
    const request = async (headers: Record<string, string>) =>
      new Request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }), ...headers } });
    const results = [];
    const cases: Record<string, string>[] = [{ 'content-length': '5' }, { 'transfer-encoding': 'chunked' }, {}];
    for (const headers of cases) {
      const result = await verifier.verify(await request(headers), { l3: '127.0.0.1' });
      results.push(result.ok ? 'accepted' : result.reason);
    }
    expect(results).toEqual(['binding-mismatch', 'binding-mismatch', 'accepted']);
  });
});
