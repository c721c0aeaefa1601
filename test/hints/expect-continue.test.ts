import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp as fastifyIpstamp } from '../../server/fastify/index.js';
import { continueWhenBodyRead } from '../../server/index.js';
import { ipstamp as honoIpstamp } from '../../server/hono/index.js';
import { ipstamp as nodeIpstamp, trackPeerAddresses } from '../../server/node/index.js';
import { continueExchange, header } from '../cli/raw-http.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * `continueWhenBodyRead(server)`: `100 Continue` when the body is first read, so that a
 * refusal made before that reaches a client that sent `Expect: 100-continue` before it uploads.
 * On a plain node:http server, and with each Node adapter as docs/node.md, docs/fastify.md and
 * docs/hono.md show it.
 */

let key: TestKeyPair;
const closers: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  key = await makeKey('ES256', 'continue-app');
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(() => new Promise((done) => server.close(done)));
  return (server.address() as AddressInfo).port;
}

function stampHeader(port: number, path: string, body?: string): Promise<string> {
  const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: body !== undefined });
  return stamper.stamp({ method: 'PUT', url: `http://127.0.0.1:${port}${path}`, body }).then((token) => `Client-IP-Attestation: ${token}`);
}

describe('on a node:http server', () => {
  /** Answers 403 without reading when the request has no `X-Allow`, else echoes the body it reads. */
  function server(): Server {
    return createServer((req, res) => {
      if (req.headers['x-allow'] === undefined) {
        res.statusCode = 403;
        res.end('refused at the head');
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`read ${Buffer.concat(chunks).toString()}`));
    });
  }

  it('Node alone sends the 100 before the app looks: a refused client uploads anyway', async () => {
    const port = await listen(server());
    const got = await continueExchange(port, { path: '/', body: 'payload' });
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([true, true, 403]);
  });

  it('with it, a refusal made without reading comes with no 100; the body is never sent and the connection closes', async () => {
    const port = await listen(continueWhenBodyRead(server()));
    const got = await continueExchange(port, { path: '/', body: 'payload', close: false });
    expect([got.continued, got.bodySent, got.final?.status, got.closed]).toEqual([false, false, 403, true]);
    expect(header(got.final!, 'connection')).toBe('close');
  });

  it('a handler that reads the body sends the 100 by reading, and gets the bytes', async () => {
    const port = await listen(continueWhenBodyRead(server()));
    const got = await continueExchange(port, { path: '/', body: 'payload', headers: ['X-Allow: yes'] });
    expect([got.continued, got.bodySent, got.final?.status, got.final?.body]).toEqual([true, true, 200, 'read payload']);
  });

  it('Content-Length: 0 gets its 100 at once and keeps the connection', async () => {
    const port = await listen(continueWhenBodyRead(server()));
    const got = await continueExchange(port, { path: '/', body: '', close: false });
    expect([got.continued, got.final?.status, got.closed]).toEqual([true, 403, false]);
  });

  it('idempotent; a server answering checkContinue itself is refused with a TypeError', () => {
    const once = createServer();
    expect(continueWhenBodyRead(continueWhenBodyRead(once))).toBe(once);
    expect(once.listenerCount('checkContinue')).toBe(1);
    const own = createServer();
    own.on('checkContinue', () => undefined);
    expect(() => continueWhenBodyRead(own)).toThrow(TypeError);
  });
});

describe('with the Fastify plugin', () => {
  async function app(): Promise<{ fastify: FastifyInstance; port: number }> {
    const fastify = Fastify();
    continueWhenBodyRead(fastify.server);
    await fastify.register(fastifyIpstamp, { keys: { keys: [key.publicJwk] } });
    fastify.put('/orders', async (request) => ({ ip: request.ipStamp?.ip, body: request.body }));
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => fastify.close());
    return { fastify, port: (fastify.server.address() as AddressInfo).port };
  }

  it('stampless: 401 with no 100, the body never sent', async () => {
    const { port } = await app();
    const got = await continueExchange(port, { path: '/orders', body: '{"item":"tea"}', contentType: 'application/json', close: false });
    expect([got.continued, got.bodySent, got.final?.status, got.closed]).toEqual([false, false, 401, true]);
  });

  it('stamped: the 100 when Fastify reads the body, then the handler with the parsed body', async () => {
    const { port } = await app();
    const body = '{"item":"tea"}';
    const got = await continueExchange(port, { path: '/orders', body, contentType: 'application/json', headers: [await stampHeader(port, '/orders', body)] });
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([true, true, 200]);
    expect(JSON.parse(got.final!.body)).toEqual({ ip: '127.0.0.1', body: { item: 'tea' } });
  });
});

describe('with ipstamp/node on Express 5', () => {
  async function app(): Promise<number> {
    const expressApp = express();
    expressApp.use(nodeIpstamp({ keys: { keys: [key.publicJwk] } }));
    expressApp.use(express.json());
    expressApp.put('/orders', (req, res) => void res.json({ ip: req.ipStamp?.ip, body: req.body as unknown }));
    const server = continueWhenBodyRead(trackPeerAddresses(createServer(expressApp)));
    return listen(server);
  }

  it('stampless: 401 with no 100, the body never sent', async () => {
    const port = await app();
    const got = await continueExchange(port, { path: '/orders', body: '{"item":"tea"}', contentType: 'application/json', close: false });
    expect([got.continued, got.bodySent, got.final?.status, got.closed]).toEqual([false, false, 401, true]);
  });

  it('a stamp for another address: 403 with no 100', async () => {
    const port = await app();
    const token = await createStamper({ key: key.privateJwk, ip: '203.0.113.9' }).stamp({ method: 'PUT', url: `http://127.0.0.1:${port}/orders` });
    const got = await continueExchange(port, { path: '/orders', body: '{}', contentType: 'application/json', headers: [`Client-IP-Attestation: ${token}`] });
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([false, false, 403]);
  });

  it('stamped: the 100 when express.json() reads the body', async () => {
    const port = await app();
    const got = await continueExchange(port, {
      path: '/orders',
      body: '{"item":"tea"}',
      contentType: 'application/json',
      headers: [await stampHeader(port, '/orders')],
    });
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([true, true, 200]);
    expect(JSON.parse(got.final!.body)).toEqual({ ip: '127.0.0.1', body: { item: 'tea' } });
  });
});

describe('with ipstamp/hono on @hono/node-server', () => {
  async function app(): Promise<number> {
    const hono = new Hono();
    hono.use(honoIpstamp({ keys: { keys: [key.publicJwk] } }));
    hono.put('/orders', async (c) => c.json({ ip: c.get('ipStamp' as never) as unknown, length: (await c.req.arrayBuffer()).byteLength }));
    const server = serve({ fetch: hono.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    continueWhenBodyRead(trackPeerAddresses(server));
    await new Promise((done) => server.once('listening', done));
    closers.push(() => new Promise((done) => server.close(done)));
    return (server.address() as AddressInfo).port;
  }

  it('stampless: 401 with no 100, the body never sent', async () => {
    const port = await app();
    const got = await continueExchange(port, { path: '/orders', body: 'x'.repeat(100), close: false });
    expect([got.continued, got.bodySent, got.final?.status, got.closed]).toEqual([false, false, 401, true]);
  });

  it('stamped: the 100 when the handler reads the body', async () => {
    const port = await app();
    const got = await continueExchange(port, { path: '/orders', body: 'x'.repeat(100), headers: [await stampHeader(port, '/orders')] });
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([true, true, 200]);
    expect(JSON.parse(got.final!.body)).toMatchObject({ length: 100 });
  });
});
