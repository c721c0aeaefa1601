import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import type { KeySetFetchError } from '../../server/verify/key-set-fetches.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { listenOnFreePort } from '../support/ports.js';
import { rawTicketHeaders } from '../support/sign-raw.js';
import { buildApp } from './app.js';

/**
 * An issuer given by URL whose set cannot be fetched: the plugin logs it at warn unless the app
 * takes the reports itself (`onIssuerKeysError`). Before, its tickets were `bad-ticket` with no
 * word of why.
 */
const ISS = 'https://edge.example';
let edge: TestKeyPair;
let client: TestKeyPair;
let jwksServer: Server;
let url = '';

beforeAll(async () => {
  edge = await makeKey('EdDSA', 'edge-1');
  client = await makeKey('ES256', 'client-1');
  jwksServer = createServer((_req, res) => res.writeHead(503).end());
  url = `http://127.0.0.1:${await listenOnFreePort(jwksServer)}/jwks`;
});
afterAll(async () => {
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
});

const request = () => ({
  method: 'GET' as const,
  url: '/orders',
  headers: { host: 'api.example', ...rawTicketHeaders(edge.privateJwk, client.privateJwk, ISS, 'http://api.example/orders') },
});

describe('the Fastify plugin and an issuer whose set cannot be fetched', () => {
  it('logs the failed fetch once at warn, with the issuer and the code', async () => {
    const { app, log } = await buildApp({ keys: { keys: [] }, replayStore: new MemoryReplayStore(), issuers: { [ISS]: url } });
    try {
      const response = await app.inject(request());
      expect([response.statusCode, response.json().reason]).toEqual([401, 'bad-ticket']);
      const warnings = log.lines.filter((line) => String(line.msg).startsWith('ipstamp: issuer keys:'));
      expect(warnings).toEqual([
        expect.objectContaining({
          level: 40,
          ipstamp: { issuer: ISS, code: 'ERR_IPSTAMP_KEYS_FETCH' },
          msg: `ipstamp: issuer keys: issuers["${ISS}"] ${url}: not a 200 answer; no key of it is in use: its tickets are refused`,
        }),
      ]);
    } finally {
      await app.close();
    }
  });

  it("an app's own onIssuerKeysError takes the report instead: nothing is logged", async () => {
    const reports: KeySetFetchError[] = [];
    const { app, log } = await buildApp({
      keys: { keys: [] },
      replayStore: new MemoryReplayStore(),
      issuers: { [ISS]: url },
      onIssuerKeysError: (error) => reports.push(error),
    });
    try {
      expect((await app.inject(request())).statusCode).toBe(401);
      expect(reports.map((r) => [r.code, r.issuer])).toEqual([['ERR_IPSTAMP_KEYS_FETCH', ISS]]);
      expect(log.text()).not.toContain('issuer keys');
    } finally {
      await app.close();
    }
  });

  it('a wrong onIssuerKeysError is a TypeError at registration', async () => {
    await expect(
      buildApp({ keys: { keys: [] }, replayStore: new MemoryReplayStore(), issuers: { [ISS]: url }, onIssuerKeysError: 'log' as never }),
    ).rejects.toThrow('onIssuerKeysError must be a function');
  });
});
