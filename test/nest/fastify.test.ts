/**
 * ipstamp/fastify in NestJS on its Fastify platform (@nestjs/platform-fastify), through the
 * recipe of docs/fastify.md#nestjs-fastify-platform, on the real packages: Nest's own body
 * parsers off (its JSON parser is Fastify's default, which the plugin replaces with its twin;
 * made by Nest at init it would clash with the plugin's), Nest's form parser asked for by name,
 * the plugin registered and awaited before `listen`, `@RouteConfig()` for per-route options,
 * the verdict read with `@IpStamp()` (test/support/nest-ipstamp.ts). A refusal is the plugin's
 * answer, byte for byte what plain Fastify gets; Nest's exception layer sees only what the
 * plugin throws (a throwing verifier). The recipe's tests that read the same on Express's
 * platform are test/support/nest-recipe.ts's.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Body, Catch, Controller, Get, Module, Post, Req, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter, NestFactory } from '@nestjs/core';
import { FastifyAdapter, RouteConfig, type NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify, { type FastifyRequest } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import ipstamp, { type IpStampPluginOptions, type Verdict } from '../../server/fastify/index.js';
import { peerAddressOf } from '../../server/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { IpStamp } from '../support/nest-ipstamp.js';
import { nestRecipeTests, recipeToken, type NestAnswer, type RecipeTokenOptions } from '../support/nest-recipe.js';
import { exchangeUntilClosed as exchange, sendJson, statusLines, withoutDates } from '../support/raw-exchange.js';

/** What the routes and the filter saw, across the apps of this file. */
const reached: string[] = [];
const filtered: string[] = [];
const peersAtClose: string[] = [];

@Controller()
class OrdersController {
  @Get('orders')
  list(@IpStamp() verdict: Verdict | null, @Req() req: FastifyRequest): { ipStamp: Verdict | null; sameAsReq: boolean } {
    reached.push('GET /orders');
    return { ipStamp: verdict, sameAsReq: req.ipStamp === verdict };
  }

  @Post('orders')
  order(@IpStamp() verdict: Verdict | null, @Body() body: unknown): { ipStamp: Verdict | null; body: unknown } {
    reached.push('POST /orders');
    return { ipStamp: verdict, body };
  }

  @Get('public/menu')
  @RouteConfig({ ipstamp: { required: false } })
  menu(@IpStamp() verdict: Verdict | null): { ipStamp: Verdict | null } {
    reached.push('GET /public/menu');
    return { ipStamp: verdict };
  }

  @Get('health')
  @RouteConfig({ ipstamp: false })
  health(@Req() req: FastifyRequest): { ipStamp: Verdict | null } {
    reached.push('GET /health');
    return { ipStamp: req.ipStamp };
  }

  /** Records the peer ipstamp reads for this connection once the client has reset it. */
  @Get('public/peer')
  @RouteConfig({ ipstamp: false })
  peer(@Req() req: FastifyRequest): string {
    const socket = req.raw.socket;
    const record = (): void => void peersAtClose.push(peerAddressOf(socket) ?? 'unknown');
    if (socket.destroyed) record();
    else socket.once('close', record);
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

@Module({ controllers: [OrdersController] })
class AppModule {}

interface NestServer {
  app: NestFastifyApplication;
  origin: string;
  port: number;
}

/** main.ts of the recipe. */
async function nestServer(options: IpStampPluginOptions): Promise<NestServer> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false, bodyParser: false });
  app.useBodyParser('application/x-www-form-urlencoded');
  await app.register(ipstamp, options);
  app.useGlobalFilters(new RecordingFilter(app.getHttpAdapter()));
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, origin: `http://127.0.0.1:${port}`, port };
}

const apps: NestFastifyApplication[] = [];
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown): void => void unhandled.push(reason);
let key: TestKeyPair;
let shared: NestServer;

const pluginOptions = (more: Partial<IpStampPluginOptions> = {}): IpStampPluginOptions => ({ keys: { keys: [key.publicJwk] }, ...more });
const tokenFor = (url: string, options?: RecipeTokenOptions) => recipeToken(key, url, options);

beforeAll(async () => {
  key = await makeKey('HS256', 'nest');
  shared = await nestServer(pluginOptions({ trustedProxies: ['127.0.0.2'] }));
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

describe('NestJS on Fastify: the recipe', () => {
  it('an accepted request reaches the controller: @IpStamp() is the verdict, the same object as request.ipStamp', async () => {
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

  it('a refusal is the plugin’s answer, once, byte for byte what plain Fastify writes; no controller, nothing through Nest’s filter', async () => {
    const plain = Fastify();
    await plain.register(ipstamp, pluginOptions());
    plain.get('/orders', async () => ({}));
    await plain.listen({ port: 0, host: '127.0.0.1' });
    try {
      const ask = (port: number, headers = '') => exchange(port, `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${headers}connection: close\r\n\r\n`);
      const replayed = await tokenFor(`${shared.origin}/orders`);
      expect((await sendJson<NestAnswer>(`${shared.origin}/orders`, { headers: { 'client-ip-attestation': replayed } })).status).toBe(200);
      const missing = await ask(shared.port);
      const replay = await ask(shared.port, `client-ip-attestation: ${replayed}\r\n`);
      const unknownPath = await exchange(shared.port, `GET /no-such-route HTTP/1.1\r\nhost: 127.0.0.1:${shared.port}\r\nconnection: close\r\n\r\n`);
      expect(withoutDates(missing)).toBe(withoutDates(await ask((plain.server.address() as AddressInfo).port)));
      expect(withoutDates(unknownPath)).toBe(withoutDates(missing));
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

  it('@RouteConfig({ ipstamp: { required: false } }) makes a stamp optional there, @RouteConfig({ ipstamp: false }) skips the route', async () => {
    const menuUrl = `${shared.origin}/public/menu`;
    const open = await sendJson<NestAnswer>(menuUrl);
    const token = await tokenFor(menuUrl);
    const stamped = await sendJson<NestAnswer>(menuUrl, { headers: { 'client-ip-attestation': token } });
    const replayed = await sendJson<NestAnswer>(menuUrl, { headers: { 'client-ip-attestation': token } });
    const health = await sendJson<NestAnswer>(`${shared.origin}/health`, { headers: { 'client-ip-attestation': 'not a stamp' } });
    const closed = await sendJson<NestAnswer>(`${shared.origin}/orders`);
    expect([open.status, open.json.ipStamp]).toEqual([200, null]);
    expect([stamped.status, stamped.json.ipStamp?.agreement]).toEqual([200, 'match']);
    // a bad stamp is refused on an optional route: it is verified all the same
    expect([replayed.status, replayed.json.reason]).toEqual([401, 'replay']);
    expect([health.status, health.json.ipStamp]).toEqual([200, null]);
    expect([closed.status, closed.json.reason]).toEqual([401, 'missing']);
    expect(reached).toEqual(['GET /public/menu', 'GET /public/menu', 'GET /health']);
  });

  nestRecipeTests(() => ({ ...shared, key, reached, peersAtClose }), {
    bodyDigestsTest: "body digests: JSON (the plugin's parser) and forms (Nest's, under the plugin's tee) are accepted; another body is binding-mismatch",
    changedBody: 'form',
    peerTest: 'the plugin tracks the server Nest made: the peer of a connection the client reset is still known',
  });
});

describe('NestJS on Fastify: errors and what does not work', () => {
  it("a verifier that throws (its clock) reaches Nest's exception layer: the global filter answers 500, once; the controller never runs", async () => {
    let broken = false;
    const now = (): number => {
      if (broken) throw new Error('clock unavailable');
      return Date.now();
    };
    const nest = await nestServer(pluginOptions({ now }));
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

  it("Nest's own body parsers with the plugin awaited: Nest's JSON parser clashes with the plugin's at listen, FST_ERR_CTP_ALREADY_PRESENT", async () => {
    const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false });
    apps.push(app);
    await app.register(ipstamp, pluginOptions());
    await expect(app.listen(0, '127.0.0.1')).rejects.toMatchObject({ code: 'FST_ERR_CTP_ALREADY_PRESENT' });
  });
});
