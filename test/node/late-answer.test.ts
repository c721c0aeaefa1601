/**
 * Someone else answered first, on ipstamp/node: with the verdict awaited in a promise (a gated
 * store, as a Redis round trip), something else answers meanwhile — a timeout middleware ahead of
 * a ticket route, another `'upgrade'` listener that turns the handshake away — and only then does
 * the verdict arrive. ipstamp then writes nothing, throws nothing, and `stamp.upgrade` hands back
 * no socket to go on with (the verdict for a request answered by the app is
 * test/node/routes.test.ts's "a refusal decided after the app already answered").
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStamper, generateStampKey } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { createRemoteKeySet } from '../../server/index.js';
import { ipstamp, trackPeerAddresses, type Verdict } from '../../server/node/index.js';
import { gatedStore, settled } from '../support/gated-store.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

const TICKET = '/.well-known/ipstamp/ticket';
const servers: Server[] = [];
const failures: unknown[] = [];
const recordFailure = (reason: unknown): void => void failures.push(reason);
beforeEach(() => {
  process.on('unhandledRejection', recordFailure);
  process.on('uncaughtException', recordFailure);
});
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
  process.off('unhandledRejection', recordFailure);
  process.off('uncaughtException', recordFailure);
  expect(failures.splice(0)).toEqual([]);
});

async function listening(server: Server): Promise<number> {
  servers.push(trackPeerAddresses(server));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };

/** A stamped WebSocket handshake for /live, as bytes. */
function stampedHandshake(port: number, token: string): string {
  return (
    `GET /live HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
    `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\nclient-ip-attestation: ${token}\r\n\r\n`
  );
}

/**
 * A raw client on `port` that sends a handshake stamped with `privateJwk` for 127.0.0.1 and keeps
 * its own side open (`allowHalfOpen`): `write` leaves it open, `end` half-closes it behind the
 * handshake. `received()` is what it has read so far; `serverEnded`, when the server ended its side.
 */
async function halfOpenHandshake(port: number, privateJwk: TestKeyPair['privateJwk'], how: 'write' | 'end') {
  const token = await createStamper({ key: privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `http://127.0.0.1:${port}/live` });
  const client = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let received = '';
  client.setEncoding('latin1').on('data', (chunk: string) => (received += chunk));
  const serverEnded = new Promise((resolve) => client.once('end', resolve));
  client[how](stampedHandshake(port, token));
  return { client, received: () => received, serverEnded };
}

describe('ipstamp/node when someone else answered first', () => {
  it.each([
    ['refused (a replay)', false],
    ['issued', true],
  ])('a ticket %s after a timeout middleware answered: the timeout’s answer alone, nothing thrown, the route serves on', async (_verdict, fresh) => {
    const gate = gatedStore();
    const app = express();
    // what connect-timeout and its kind do: answer while the request is still in the chain (the first one here)
    let timeouts = 0;
    app.use((_req, res, next) => {
      if (timeouts++ === 0) void gate.asked.then(() => res.status(503).json({ error: 'timed out' }));
      next();
    });
    app.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey, replayStore: gate.store } }));
    const errors: string[] = [];
    app.use((error: Error, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      errors.push(error.message);
      next(error);
    });
    const origin = `http://127.0.0.1:${await listening(createServer(app))}`;
    const client = await generateStampKey({ alg: 'ES256' });
    const ask = async (): Promise<Response> =>
      fetch(`${origin}${TICKET}`, { method: 'POST', headers: { 'client-ip-attestation': await createTicketRequestProof(client, `${origin}${TICKET}`) } });
    const first = await ask();
    expect([first.status, await first.json()]).toEqual([503, { error: 'timed out' }]);
    gate.answer(fresh);
    await settled();
    // a second head would have been ERR_HTTP_HEADERS_SENT, handed to the app's error handler
    expect(errors).toEqual([]);
    // the gate answers at once from now on: a new proof is issued, or refused as the gate says, by ipstamp alone
    const next = await ask();
    expect([next.status, next.headers.get('content-type')]).toEqual(fresh ? [200, 'application/json; charset=utf-8'] : [401, 'application/problem+json']);
  });

  it.each([
    ['refused (a replay)', false],
    ['accepted', true],
  ])(
    'a handshake %s after another upgrade listener answered and ended its socket: undefined, nothing more written, nothing thrown',
    async (_verdict, fresh) => {
      const key = await makeKey('HS256', 'late-upgrade');
      const gate = gatedStore();
      const stamp = ipstamp({ keys: { keys: [key.publicJwk] }, replayStore: gate.store });
      const outcomes: (Verdict | null | undefined)[] = [];
      const server = createServer();
      server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
        void stamp.upgrade(req, socket).then((outcome) => {
          outcomes.push(outcome);
          // docs/node.md's recipe: go on with the socket unless told to stop
          if (outcome !== undefined) socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
        });
      });
      // another listener, for another path, turns this handshake away while the verdict is awaited
      server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
        void gate.asked.then(() => socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'));
      });
      const port = await listening(server);
      // the client keeps its side open: the server's socket is ended, not destroyed
      const { client, received, serverEnded } = await halfOpenHandshake(port, key.privateJwk, 'write');
      await serverEnded;
      gate.answer(fresh);
      await expect.poll(() => outcomes).toEqual([undefined]);
      await settled();
      client.destroy();
      expect(received()).toBe('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    },
  );

  it('a handshake whose client half-closed after sending it (its FIN read while the verdict was awaited): the verdict, the socket still the caller’s to answer on', async () => {
    const key = await makeKey('HS256', 'half-closed-upgrade');
    const gate = gatedStore();
    const stamp = ipstamp({ keys: { keys: [key.publicJwk] }, replayStore: gate.store });
    let decide!: (outcome: string | null | undefined) => void;
    const decided = new Promise<string | null | undefined>((resolve) => (decide = resolve));
    let readEnd!: () => void;
    const endRead = new Promise<void>((resolve) => (readEnd = resolve));
    const server = createServer();
    const upgraded: Duplex[] = [];
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      upgraded.push(socket);
      // node:http's sockets are allowHalfOpen: the client's FIN ends the reading side only
      socket.once('end', readEnd).resume();
      void stamp.upgrade(req, socket).then((outcome) => {
        decide(outcome === undefined || outcome === null ? outcome : outcome.ip);
        if (outcome !== undefined) socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
      });
    });
    const port = await listening(server);
    const { client, received, serverEnded } = await halfOpenHandshake(port, key.privateJwk, 'end');
    try {
      await Promise.all([gate.asked, endRead]);
      gate.answer(true);
      expect(await decided).toBe('127.0.0.1');
      await serverEnded;
      expect(received()).toBe('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    } finally {
      // a socket handed back to no one is left half-open: end it here, not in the server's close
      for (const socket of upgraded) socket.destroy();
      client.destroy();
    }
  });

  it.each([
    ['refused (a kid the set does not hold)', 'elsewhere', [] as string[]],
    ['accepted', 'late-keys', ['127.0.0.1']],
  ])('a verdict %s, awaited on a key service that answers after a timeout middleware did: one answer, nothing thrown', async (_verdict, kid, handled) => {
    const key = await makeKey('ES256', kid);
    const published = kid === 'late-keys' ? key : await makeKey('ES256', 'late-keys');
    let asked!: () => void;
    const fetched = new Promise<void>((resolve) => (asked = resolve));
    let publish!: () => void;
    const released = new Promise<void>((resolve) => (publish = resolve));
    const keyService = createServer((_req, res) => {
      asked();
      void released.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [published.publicJwk] })));
    });
    const keysUrl = `http://127.0.0.1:${await listening(keyService)}/keys.json`;
    const app = express();
    app.use((_req, res, next) => {
      void fetched.then(() => res.status(503).json({ error: 'timed out' }));
      next();
    });
    let reloaded!: () => void;
    const loaded = new Promise<void>((resolve) => (reloaded = resolve));
    app.use(ipstamp({ keys: createRemoteKeySet(keysUrl, { onReload: () => reloaded() }).lookup }));
    const seen: string[] = [];
    const errors: string[] = [];
    app.get('/orders', (req, res) => {
      seen.push((req as { ipStamp?: Verdict }).ipStamp?.ip ?? 'none');
      // an app behind a timeout middleware checks before it answers (connect-timeout's advice)
      if (!res.headersSent) res.json({});
    });
    app.use((error: Error, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      errors.push(error.message);
      next(error);
    });
    const origin = `http://127.0.0.1:${await listening(createServer(app))}`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/orders` });
    const answer = await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': token } });
    expect([answer.status, await answer.json()]).toEqual([503, { error: 'timed out' }]);
    publish();
    await loaded;
    await settled();
    expect([seen, errors]).toEqual([handled, []]);
  });
});
