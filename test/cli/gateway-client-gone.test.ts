import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/stamper.js';
import { requireBinary } from '../support/binaries.js';
import { makeKey } from '../support/keys.js';
import { listenOnFreePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { rawExchange } from './raw-http.js';
import { waitFor } from './stamped-traffic.js';

/**
 * A client that goes away while its stamp is still being checked: the gateway has nobody to give
 * the upstream's answer to, and does not ask the upstream at all. Redis holds the check: with
 * `CLIENT PAUSE … WRITE` the gateway's `SET NX` waits (Redis counts it in `blocked_clients`)
 * until the test has reset the client's connection, then completes, and the stamp is accepted.
 */
const binary = requireBinary('redis-server');
const scratch = scratchDir();
let redis: RedisServer | undefined;
let admin: Redis | undefined;
let upstream: Server | undefined;
let gateway: RunningServe | undefined;
let stamper: Stamper;
/** The request targets the upstream received, in order. */
const received: string[] = [];

function startUpstream(): Server {
  return createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    let buffer = '';
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      buffer += data;
      // the gateway sends these GETs without a body
      for (let end = buffer.indexOf('\r\n\r\n'); end >= 0; end = buffer.indexOf('\r\n\r\n')) {
        received.push(buffer.slice(0, end).split(' ')[1] ?? '');
        buffer = buffer.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
}

const head = async (path: string, extra: string[] = []): Promise<string> =>
  [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${gateway!.port}`,
    `Client-IP-Attestation: ${await stamper.stamp({ method: 'GET', url: `${gateway!.url}${path}` })}`,
    ...extra,
    '',
    '',
  ].join('\r\n');

async function through(path: string): Promise<number | undefined> {
  const exchange = await rawExchange(gateway!.port, await head(path, ['Connection: close']));
  return exchange.responses[0]?.status;
}

async function blockedClients(): Promise<number> {
  const info = (await admin!.info('clients')) as string;
  return Number(/blocked_clients:(\d+)/.exec(info)?.[1]);
}

beforeAll(async () => {
  if (!binary) return;
  redis = await startRedis(binary);
  admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  upstream = startUpstream();
  const upstreamPort = await listenOnFreePort(upstream);
  const key = await makeKey('HS256', 'gw-gone');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
  const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
  gateway = await startServe(
    [
      '--port',
      '0',
      '--keys',
      keys,
      '--upstream',
      `http://127.0.0.1:${upstreamPort}`,
      '--replay-store',
      redis.url,
      '--store-timeout',
      '30000',
      '--metrics-path',
      '/metrics',
    ],
    'gateway',
  );
}, 30_000);

afterAll(async () => {
  await admin?.call('CLIENT', 'UNPAUSE').catch(() => undefined);
  await gateway?.stop();
  admin?.disconnect();
  await redis?.close();
  await new Promise((done) => (upstream === undefined ? done(undefined) : upstream.close(done)));
  scratch.cleanup();
});

describe.skipIf(!binary)('ipstamp gateway: a client gone before its request is forwarded', () => {
  it('is never forwarded, though its stamp is accepted; the next client is', async () => {
    expect(await through('/warm')).toBe(200);
    expect(received).toEqual(['/warm']);

    await admin!.call('CLIENT', 'PAUSE', '30000', 'WRITE');
    const client = connect({ host: '127.0.0.1', port: gateway!.port });
    client.on('error', () => undefined);
    await new Promise<void>((done) => client.once('connect', done));
    client.write(await head('/gone'));
    // the gateway's SET for /gone waits in Redis: the request is being checked
    await waitFor('the gateway to wait on Redis', async () => (await blockedClients()) >= 1, 10_000);
    client.resetAndDestroy();
    // a later exchange with the gateway: it has read the reset by the time this is answered
    const echo = await fetch(`${gateway!.url}/.well-known/ipstamp`);
    expect(echo.status).toBe(200);
    await admin!.call('CLIENT', 'UNPAUSE');

    // /gone's SET was sent first on the store's connection, so its answer is acted on first
    expect(await through('/after')).toBe(200);
    expect(await through('/after-2')).toBe(200);
    expect(received).toEqual(['/warm', '/after', '/after-2']);
    // /gone's stamp was accepted (four of four), not refused: only the forwarding was left out
    const metrics = await (await fetch(`${gateway!.url}/metrics`)).text();
    expect(metrics).toMatch(/^ipstamp_accepted_total\{agreement="match"\} 4$/m);
    expect(metrics).not.toMatch(/^ipstamp_rejected_total\{.*\} [1-9]/m);
  });
});
