import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.node.js';
import { STAMP_HEADER } from '../../shared/constants.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePort, listenOnFreePort } from '../support/ports.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { attestedLines, headerLines } from './raw-http.js';

/**
 * The gateway with its replay store down (a Redis nobody listens on), under each policy: what
 * the client gets, and what the upstream is told. Nothing here needs a Redis server.
 */

const scratch = scratchDir();
const upstreamSaw: Record<string, string[]>[] = [];
let upstream: Server;
let key: TestKeyPair;
const gateways: RunningServe[] = [];

async function gatewayWith(...flags: string[]): Promise<RunningServe> {
  const upstreamPort = (upstream.address() as { port: number }).port;
  const keysFile = scratch.file(`keys-${gateways.length}.json`, { keys: [key.publicJwk] });
  const deadRedis = `redis://127.0.0.1:${await freePort()}`;
  const gateway = await startServe(
    ['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--replay-store', deadRedis, ...flags],
    'gateway',
  );
  gateways.push(gateway);
  return gateway;
}

/** A good stamp, and a client's own attempt to say the replay check ran. */
async function send(gateway: RunningServe): Promise<{ status: number; reason?: string; forwarded: Record<string, string[]> | undefined }> {
  const url = `${gateway.url}/pay`;
  const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
  const before = upstreamSaw.length;
  const response = await fetch(url, { headers: { [STAMP_HEADER]: token, 'X-Attested-Client-IP-Replay': 'checked', x_attested_client_ip_replay: 'checked' } });
  const body = await response.text();
  const reason = response.headers.get('content-type')?.startsWith('application/problem+json') ? (JSON.parse(body) as { reason: string }).reason : undefined;
  return { status: response.status, ...(reason === undefined ? {} : { reason }), forwarded: upstreamSaw[before] };
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    upstreamSaw.push(attestedLines(headerLines(req.rawHeaders)));
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await listenOnFreePort(upstream);
  key = await makeKey('ES256', 'gw-store-down');
});

afterAll(async () => {
  await Promise.allSettled(gateways.map((g) => g.stop()));
  await new Promise((resolve) => upstream?.close(resolve));
  scratch.cleanup();
});

describe('ipstamp gateway with its replay store down', () => {
  it('by default: 503 store-unavailable, and nothing reaches the upstream', async () => {
    const got = await send(await gatewayWith());
    expect(got).toEqual({ status: 503, reason: 'store-unavailable', forwarded: undefined });
  });

  it('--on-store-error accept: forwarded attested, and the upstream is told the replay check was skipped', async () => {
    const got = await send(await gatewayWith('--on-store-error', 'accept'));
    expect(got).toEqual({
      status: 200,
      forwarded: {
        'x-attested-client-ip': ['127.0.0.1'],
        'x-attested-client-ip-agreement': ['match'],
        'x-attested-client-ip-source': ['stamp'],
        'x-attested-client-ip-replay': ['unchecked'],
      },
    });
  });

  it('--report-only: forwarded unattested, refused store-unavailable', async () => {
    const got = await send(await gatewayWith('--report-only'));
    expect(got).toEqual({ status: 200, forwarded: { 'x-attested-client-ip-refusal': ['store-unavailable'] } });
  });
});
