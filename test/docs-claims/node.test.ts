import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStamper, generateStampKey } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ipstamp, type IpStampMiddleware, trackPeerAddresses } from '../../server/node/index.js';
import { makeKey } from '../support/keys.js';

/**
 * docs/node.md's options table and its `stamp.optional` promise: the ticket body limit is
 * 16384 bytes unless set, and `stamp.optional` shares the verifier and replay store of the
 * middleware it hangs off, so a stamp spent on an optional route is a replay on a required one.
 */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

/** A node:http server sending a request through `stamp.optional` when it says `x-via: optional`, else through `stamp`. */
async function serve(stamp: IpStampMiddleware & { optional: IpStampMiddleware }): Promise<string> {
  const server = trackPeerAddresses(
    createServer((req, res) => {
      const middleware = req.headers['x-via'] === 'optional' ? stamp.optional : stamp;
      middleware(req, res, () => res.end(JSON.stringify({ agreement: req.ipStamp?.agreement ?? null })));
    }),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('docs/node.md', () => {
  it('bodyLimit defaults to 16384: a ticket request of 16384 body bytes is read, one of 16385 is 413 body-too-large', async () => {
    const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-docs', alg: 'EdDSA' };
    const origin = await serve(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey } }));
    const client = await generateStampKey({ alg: 'ES256' });
    const ticketUrl = `${origin}/.well-known/ipstamp/ticket`;
    const ask = async (length: number) => {
      const response = await fetch(ticketUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'client-ip-attestation': await createTicketRequestProof(client, ticketUrl) },
        body: 'x'.repeat(length),
      });
      return [response.status, ((await response.json()) as { reason?: string }).reason ?? 'ticket'];
    };
    expect(await ask(16_384)).toEqual([200, 'ticket']);
    expect(await ask(16_385)).toEqual([413, 'body-too-large']);
  });

  it('stamp.optional is the same verifier and replay store: a stamp spent on an optional route is a replay on a required one', async () => {
    const key = await makeKey('HS256', 'docs-node-optional');
    const stamp = ipstamp({ keys: { keys: [key.publicJwk] } });
    const origin = await serve(stamp);
    const url = `${origin}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
    const send = async (via: string) => {
      const response = await fetch(url, { headers: { 'client-ip-attestation': token, 'x-via': via } });
      return [response.status, await response.json()];
    };
    expect(await send('optional')).toEqual([200, { agreement: 'match' }]);
    expect(await send('required')).toEqual([401, expect.objectContaining({ reason: 'replay' })]);
  });
});
