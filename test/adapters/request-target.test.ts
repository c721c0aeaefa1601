import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp as fastifyIpstamp } from '../../server/fastify/plugin.js';
import { ipstamp as honoIpstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as nodeIpstamp, trackPeerAddresses } from '../../server/node/index.js';
import { rawExchange } from '../cli/raw-http.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * PROTOCOL §5 step 9: `htu`'s path equals the request-target's path byte for byte — no
 * percent-decoding, no dot-segment removal. Every adapter on Node must hand the verifier the
 * target as the client sent it, so the three answer each raw request alike: an absolute-form
 * target (`GET http://host/orders`), which a framework may parse into a path, matches no `htu`.
 */
let key: TestKeyPair;
const adapters: { name: string; port: number; close: () => Promise<void> }[] = [];

async function listening(server: Server): Promise<number> {
  trackPeerAddresses(server);
  if (!server.listening) await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  key = await makeKey('HS256', 'target-hs');
  const keys = { keys: [key.publicJwk] };

  const fastify = Fastify();
  await fastify.register(fastifyIpstamp, { keys });
  fastify.all('*', async () => 'ok');
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  adapters.push({ name: 'fastify', port: await listening(fastify.server), close: () => fastify.close() });

  const middleware = nodeIpstamp({ keys });
  const node = createServer((req, res) => middleware(req, res, () => res.end('ok')));
  adapters.push({ name: 'node', port: await listening(node), close: () => new Promise((done) => node.close(() => done())) });

  const app = new Hono<{ Variables: IpStampVariables }>();
  app.use(honoIpstamp({ keys }));
  app.all('*', (c) => c.text('ok'));
  const hono = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((done) => hono.once('listening', done));
  adapters.push({ name: 'hono', port: await listening(hono), close: () => new Promise((done) => hono.close(() => done())) });
});

afterAll(async () => {
  await Promise.all(adapters.map((a) => a.close()));
});

/** One request written as given, on its own connection: the status and, for a refusal, its reason. */
async function send(port: number, target: string, token: string): Promise<string> {
  const request = `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nclient-ip-attestation: ${token}\r\nconnection: close\r\n\r\n`;
  const { responses, text } = await rawExchange(port, request, { giveUpMs: 10_000 });
  const [answer] = responses;
  if (answer === undefined) return `no answer: ${JSON.stringify(text.slice(0, 80))}`;
  return answer.status === 200 ? '200' : `${answer.status} ${(JSON.parse(answer.body) as { reason: string }).reason}`;
}

/** A stamp whose `htu` path is exactly `path`, as a client that writes its own target would sign it. */
function stampFor(port: number, path: string): Promise<string> {
  const origin = `http://127.0.0.1:${port}`;
  return createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/`, claims: { htu: `${origin}${path}` } });
}

describe('the request-target reaches the verifier as sent, in every adapter', () => {
  const cases: [target: (port: number) => string, signedPath: string, expected: string][] = [
    [() => '/orders', '/orders', '200'],
    [() => '/orders?page=2', '/orders', '200'],
    [(port) => `http://127.0.0.1:${port}/orders`, '/orders', '401 binding-mismatch'],
    [() => '/a/../orders', '/orders', '401 binding-mismatch'],
    [() => '/a/../orders', '/a/../orders', '200'],
    [() => '/%6Frders', '/orders', '401 binding-mismatch'],
    [() => '/%6Frders', '/%6Frders', '200'],
  ];

  it.each(['fastify', 'node', 'hono'])('%s', async (name) => {
    const { port } = adapters.find((a) => a.name === name)!;
    const answers: string[] = [];
    for (const [target, signedPath] of cases) answers.push(await send(port, target(port), await stampFor(port, signedPath)));
    expect(answers).toEqual(cases.map(([, , expected]) => expected));
  });
});
