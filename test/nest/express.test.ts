/**
 * ipstamp/node in NestJS on its Express platform (@nestjs/platform-express), through the recipe
 * of docs/node.md#nestjs-express-platform, on the real packages: Nest's own body parsers off,
 * Express's made with `rawBodyVerify` in their place, the middleware applied by the module
 * (`stamp.optional` for some routes, `stamp` for the rest), the peer tracked on
 * `app.getHttpServer()` before `listen`, the verdict read with `@IpStamp()`
 * (test/support/nest-ipstamp.ts). A refusal is ipstamp's answer, once, byte for byte what plain
 * node:http gets; Nest's exception layer sees only what ipstamp passes on (a throwing verifier).
 * Nest's own parsers, kept as they are, leave the body unknown: a stamp with `cdg` is refused,
 * never accepted. The recipe's tests that read the same on Fastify's platform are
 * test/support/nest-recipe.ts's.
 */
import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Body, Catch, Controller, Get, Module, Post, Req, type ArgumentsHost, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { BaseExceptionFilter, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ipstamp,
  peerAddressOf,
  rawBodyVerify,
  trackPeerAddresses,
  type IpStampNodeMiddleware,
  type IpStampMiddlewareOptions,
  type Verdict,
} from '../../server/node/index.js';
import type { VerifierInstrumentation } from '../../server/verify/instrumentation.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { IpStamp } from '../support/nest-ipstamp.js';
import { nestRecipeTests, recipeToken, type NestAnswer, type RecipeTokenOptions } from '../support/nest-recipe.js';
import { exchangeUntilClosed as exchange, sendJson, statusLines } from '../support/raw-exchange.js';

/** What the routes and the filter saw, across the apps of this file. */
const reached: string[] = [];
const filtered: string[] = [];
const peersAtClose: string[] = [];

@Controller()
class OrdersController {
  @Get('orders')
  list(@IpStamp() verdict: Verdict | null, @Req() req: IncomingMessage): { ipStamp: Verdict | null; sameAsReq: boolean } {
    reached.push('GET /orders');
    return { ipStamp: verdict, sameAsReq: req.ipStamp === verdict };
  }

  @Post('orders')
  order(@IpStamp() verdict: Verdict | null, @Body() body: unknown): { ipStamp: Verdict | null; body: unknown } {
    reached.push('POST /orders');
    return { ipStamp: verdict, body };
  }

  @Get('public/menu')
  menu(@IpStamp() verdict: Verdict | null): { ipStamp: Verdict | null } {
    reached.push('GET /public/menu');
    return { ipStamp: verdict };
  }

  /** Records the peer ipstamp reads for this connection once the client has reset it. */
  @Get('public/peer')
  peer(@Req() req: IncomingMessage): string {
    const record = (): void => void peersAtClose.push(peerAddressOf(req.socket) ?? 'unknown');
    if (req.socket.destroyed) record();
    else req.socket.once('close', record);
    return 'ok';
  }
}

/** A global filter that records what reaches Nest's exception layer, then answers as Nest does. */
@Catch()
class RecordingFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    filtered.push((exception as Error).message);
    super.catch(exception, host);
  }
}

/** The recipe's module: a stamp optional under /public, required everywhere else (unknown paths and the echo route too). */
function appModule(stamp: IpStampNodeMiddleware): new () => NestModule {
  @Module({ controllers: [OrdersController] })
  class AppModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(stamp.optional).forRoutes('public/{*rest}');
      consumer.apply(stamp).exclude('public/{*rest}').forRoutes('{*all}');
    }
  }
  return AppModule;
}

/** A module with no middleware, for `app.use(stamp)` in main. */
@Module({ controllers: [OrdersController] })
class PlainModule {}

interface NestServer {
  app: NestExpressApplication;
  origin: string;
  port: number;
}

type Parsers = 'recipe' | 'nest-default' | 'nest-raw-body';

/**
 * main.ts of the recipe. `parsers: 'recipe'` is the doc's: Nest's own off, the two it would
 * make (JSON, forms) made by Express with `rawBodyVerify`. `global` mounts `app.use(stamp)`
 * instead of the module's middleware.
 */
async function nestServer(stamp: IpStampNodeMiddleware, options: { parsers?: Parsers; global?: boolean } = {}): Promise<NestServer> {
  const parsers = options.parsers ?? 'recipe';
  const module = options.global === true ? PlainModule : appModule(stamp);
  const app = await NestFactory.create<NestExpressApplication>(module, {
    logger: false,
    bodyParser: parsers !== 'recipe',
    rawBody: parsers === 'nest-raw-body',
  });
  if (parsers === 'recipe') {
    app.use(express.json({ verify: rawBodyVerify }));
    app.use(express.urlencoded({ extended: true, verify: rawBodyVerify }));
  }
  if (options.global === true) app.use(stamp);
  app.useGlobalFilters(new RecordingFilter(app.getHttpAdapter()));
  trackPeerAddresses(app.getHttpServer());
  await app.listen(0, '127.0.0.1');
  apps.push(app);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, origin: `http://127.0.0.1:${port}`, port };
}

const apps: NestExpressApplication[] = [];
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown): void => void unhandled.push(reason);
let key: TestKeyPair;
let shared: NestServer;
let sharedStamp: IpStampNodeMiddleware;

const stampOptions = (more: Partial<IpStampMiddlewareOptions> = {}): IpStampMiddlewareOptions => ({ keys: { keys: [key.publicJwk] }, ...more });
const tokenFor = (url: string, options?: RecipeTokenOptions) => recipeToken(key, url, options);

beforeAll(async () => {
  key = await makeKey('HS256', 'nest');
  sharedStamp = ipstamp(stampOptions({ trustedProxies: ['127.0.0.2'] }));
  shared = await nestServer(sharedStamp);
});
afterAll(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});
beforeEach(() => {
  process.on('unhandledRejection', recordUnhandled);
  reached.length = 0;
  filtered.length = 0;
  peersAtClose.length = 0;
});
afterEach(async () => {
  process.off('unhandledRejection', recordUnhandled);
  await Promise.all(apps.splice(1).map((app) => app.close()));
  expect(unhandled.splice(0)).toEqual([]);
});

/** An answer without what differs between two servers: its `Date`, and Express's `X-Powered-By`. */
function comparable(received: string): string {
  return received.replace(/\r\ndate: [^\r]*/gi, '').replace(/\r\nx-powered-by: [^\r]*/gi, '');
}

/** The same middleware on plain node:http, as docs/node.md shows it: the answer Nest must equal. */
async function plainServer(stamp: IpStampNodeMiddleware): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => stamp(req, res, () => res.end('{}')));
  await new Promise<void>((done) => trackPeerAddresses(server).listen(0, '127.0.0.1', done));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((done) => server.close(() => done())) };
}

describe('NestJS on Express: the recipe', () => {
  it('an accepted request reaches the controller: @IpStamp() is the verdict, the same object as req.ipStamp', async () => {
    const url = `${shared.origin}/orders?page=2`;
    const res = await sendJson<NestAnswer>(url, { headers: { 'client-ip-attestation': await tokenFor(url) } });
    expect([res.status, res.json.ipStamp?.ip, res.json.ipStamp?.agreement, res.json.ipStamp?.kid, res.json.sameAsReq]).toEqual([
      200,
      '127.0.0.1',
      'match',
      'nest',
      true,
    ]);
    expect(reached).toEqual(['GET /orders']);
  });

  it('a refusal is ipstamp’s answer, once, byte for byte what plain node:http writes; no controller, nothing through Nest’s filter', async () => {
    const plain = await plainServer(ipstamp(stampOptions()));
    try {
      const ask = (port: number, headers = '') => exchange(port, `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${headers}connection: close\r\n\r\n`);
      const replayed = await tokenFor(`${shared.origin}/orders`);
      expect((await sendJson<NestAnswer>(`${shared.origin}/orders`, { headers: { 'client-ip-attestation': replayed } })).status).toBe(200);
      const missing = await ask(shared.port);
      const replay = await ask(shared.port, `client-ip-attestation: ${replayed}\r\n`);
      const unknownPath = await exchange(shared.port, `GET /no-such-route HTTP/1.1\r\nhost: 127.0.0.1:${shared.port}\r\nconnection: close\r\n\r\n`);
      expect(comparable(missing)).toBe(comparable(await ask(plain.port)));
      expect(comparable(unknownPath).replace('GET /no-such-route', '')).toBe(comparable(missing));
      expect(statusLines(missing + replay + unknownPath)).toEqual(['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 401 Unauthorized', 'HTTP/1.1 401 Unauthorized']);
      expect(missing).toMatch(/\r\ncontent-type: application\/problem\+json\r\ncache-control: no-store\r\n/);
      expect(missing.slice(missing.indexOf('\r\n\r\n') + 4)).toBe(
        '{"type":"urn:ipstamp:missing","title":"Client IP attestation required","status":401,"reason":"missing"}',
      );
      expect(JSON.parse(replay.slice(replay.indexOf('\r\n\r\n') + 4))).toEqual({
        type: 'urn:ipstamp:replay',
        title: 'Client IP attestation was already used',
        status: 401,
        reason: 'replay',
      });
      expect(reached).toEqual(['GET /orders']);
      expect(filtered).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('stamp.optional under /public (forRoutes), stamp everywhere else (exclude): one ipstamp(), one replay store', async () => {
    const open = await sendJson<NestAnswer>(`${shared.origin}/public/menu`);
    const stampedUrl = `${shared.origin}/public/menu`;
    const token = await tokenFor(stampedUrl);
    const stamped = await sendJson<NestAnswer>(stampedUrl, { headers: { 'client-ip-attestation': token } });
    const replayed = await sendJson<NestAnswer>(stampedUrl, { headers: { 'client-ip-attestation': token } });
    const closed = await sendJson<NestAnswer>(`${shared.origin}/orders`);
    expect([open.status, open.json.ipStamp]).toEqual([200, null]);
    expect([stamped.status, stamped.json.ipStamp?.agreement]).toEqual([200, 'match']);
    // a bad stamp is refused on an optional route too; the optional twin shares the replay store
    expect([replayed.status, replayed.json.reason]).toEqual([401, 'replay']);
    expect([closed.status, closed.json.reason]).toEqual([401, 'missing']);
    expect(reached).toEqual(['GET /public/menu', 'GET /public/menu']);
  });

  nestRecipeTests(() => ({ ...shared, key, reached, peersAtClose }), {
    bodyDigestsTest: 'body digests: JSON and forms parsed by the parsers made with rawBodyVerify are accepted; another body is binding-mismatch',
    changedBody: 'json',
    peerTest: 'trackPeerAddresses(app.getHttpServer()) before listen: the peer of a connection the client reset is still known',
  });
});

describe('NestJS on Express: errors and what does not work', () => {
  it('a refusal decided in a promise (a Redis store, telemetry) is the same answer, once; nothing unhandled', async () => {
    /** Changes nothing but makes every verification a promise, as openTelemetry() or a Redis store does. */
    const asyncVerify: VerifierInstrumentation = {
      instrumentReplayStore: (store) => store,
      instrumentVerify: (verify) => async (input) => verify(input),
    };
    const nest = await nestServer(ipstamp(stampOptions({ telemetry: asyncVerify })));
    const token = await tokenFor(`${nest.origin}/orders`);
    const ask = () =>
      exchange(nest.port, `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${nest.port}\r\nclient-ip-attestation: ${token}\r\nconnection: close\r\n\r\n`);
    const accepted = await ask();
    const replay = await ask();
    expect(statusLines(accepted + replay)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 401 Unauthorized']);
    expect(replay.slice(replay.indexOf('\r\n\r\n') + 4)).toBe(
      '{"type":"urn:ipstamp:replay","title":"Client IP attestation was already used","status":401,"reason":"replay"}',
    );
    expect(reached).toEqual(['GET /orders']);
    expect(filtered).toEqual([]);
  });

  it("a verifier that throws (its clock) reaches Nest's exception layer: the global filter answers 500, once; the controller never runs", async () => {
    let broken = false;
    const now = (): number => {
      if (broken) throw new Error('clock unavailable');
      return Date.now();
    };
    const nest = await nestServer(ipstamp(stampOptions({ now })));
    const token = await tokenFor(`${nest.origin}/orders`);
    broken = true;
    const answer = await exchange(
      nest.port,
      `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${nest.port}\r\nclient-ip-attestation: ${token}\r\nconnection: close\r\n\r\n`,
    );
    expect(statusLines(answer)).toEqual(['HTTP/1.1 500 Internal Server Error']);
    expect(answer.slice(answer.indexOf('\r\n\r\n') + 4)).toBe('{"statusCode":500,"message":"Internal server error"}');
    expect(filtered).toEqual(['clock unavailable']);
    expect(reached).toEqual([]);
  });

  it('app.use(stamp) in main: every route requires a stamp, and a refusal is the same answer', async () => {
    const nest = await nestServer(ipstamp(stampOptions()), { global: true });
    const url = `${nest.origin}/orders`;
    const accepted = await sendJson<NestAnswer>(url, { headers: { 'client-ip-attestation': await tokenFor(url) } });
    const missing = await sendJson<NestAnswer>(`${nest.origin}/public/menu`);
    expect([accepted.status, accepted.json.ipStamp?.agreement]).toEqual([200, 'match']);
    expect([missing.status, missing.json.reason]).toEqual([401, 'missing']);
  });

  it.each([
    ['Nest’s default parsers, app.use(stamp) in main (it runs before them)', 'nest-default', true],
    ['Nest’s parsers with rawBody: true (req.rawBody is not what ipstamp reads)', 'nest-raw-body', false],
  ] as const)('%s: a stamp with cdg is refused binding-mismatch, never accepted', async (_name, parsers, global) => {
    const nest = await nestServer(ipstamp(stampOptions()), { parsers, global });
    const url = `${nest.origin}/orders`;
    const signed = await tokenFor(url, { method: 'POST', body: '{"item":42}' });
    const res = await sendJson<NestAnswer>(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'client-ip-attestation': signed },
      body: '{"item":42}',
    });
    expect([res.status, res.json.reason]).toEqual([401, 'binding-mismatch']);
    expect(reached).toEqual([]);
  });
});
