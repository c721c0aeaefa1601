import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, generateStampKey } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { unsignedTicketAnswer } from '../support/unsigned-ticket.js';
import { startVerifyingServer, type VerifyingServer } from '../support/verifying-server.js';

/**
 * After a refusal that calls for a second attempt, the second stamp needs a fresh address
 * (`ip-mismatch`: the echo again) or a fresh ticket (`bad-ticket`: the issuer again). When that
 * fails, the server's refusal is the answer — returned whole, its body unread — not an error
 * that drops it.
 */

let key: TestKeyPair;
let server: VerifyingServer | undefined;
beforeAll(async () => {
  key = await makeKey('ES256');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('the retry when its stamp cannot be made', () => {
  it("ip: 'echo': the echo is down on the refresh after ip-mismatch → the first 403 is returned, readable", async () => {
    const site = await startVerifyingServer({
      keys: [key.publicJwk],
      // the echo goes down right after the first refusal
      route: () => {
        site.echoReply = { status: 503, body: 'down' };
        return undefined;
      },
    });
    server = site;
    site.echoAnswer = '192.0.2.1'; // a stale address: the stamp is refused ip-mismatch

    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo' });
    const response = await stampedFetch(site.url, { method: 'POST', body: 'order' });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ reason: 'ip-mismatch' });
    expect(site.attempts.map((a) => a.status)).toEqual([403]);
    expect(site.echoCount).toBe(2);

    // the echo back up: the next call learns the address and is accepted
    site.echoReply = undefined;
    site.echoAnswer = undefined;
    const next = await stampedFetch(site.url);
    expect(next.status).toBe(200);
  });

  it("ip: 'ticket': the issuer is down when bad-ticket calls for a new ticket → the 401 is returned, readable", async () => {
    const stampKey = await generateStampKey();
    let issued = 0;
    let targetCalls = 0;
    const fetch = (input: unknown): Promise<Response> => {
      if (String(input).endsWith('/.well-known/ipstamp/ticket')) {
        if (++issued > 1) return Promise.resolve(new Response('down', { status: 503 }));
        return Promise.resolve(Response.json(unsignedTicketAnswer({ ip: '192.0.2.1', exp: Math.floor(Date.now() / 1000) + 600, jwk: stampKey.publicJwk })));
      }
      targetCalls++;
      const problem = { type: 'urn:ipstamp:bad-ticket', title: 'Client IP ticket is not acceptable', status: 401, reason: 'bad-ticket' };
      return Promise.resolve(new Response(JSON.stringify(problem), { status: 401, headers: { 'content-type': 'application/problem+json' } }));
    };
    const stampedFetch = createStampedFetch({ key: stampKey, ip: 'ticket', issuer: 'https://edge.example', fetch });
    const response = await stampedFetch('https://api.example/orders', { method: 'PUT', body: 'x' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ reason: 'bad-ticket' });
    expect([issued, targetCalls]).toEqual([2, 1]);
  });
});
