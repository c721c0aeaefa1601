import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { listenOnFreePort } from '../support/ports.js';
import { rawTicketHeaders } from '../support/sign-raw.js';

/**
 * `--issuers FILE` naming an issuer by the URL of its set: a fetch that fails, or a set with a
 * key that cannot be used, is told on stderr as `--keys-url`'s are. Before, every ticket of
 * that issuer was `401 bad-ticket` and nothing said why.
 */
const scratch = scratchDir();
const DOWN = 'https://down.example';
const LEAKY = 'https://leaky.example';
let edge: TestKeyPair;
let client: TestKeyPair;
let jwksServer: Server;
let base = '';
let serve: RunningServe;

beforeAll(async () => {
  edge = await makeKey('EdDSA', 'edge-1');
  client = await makeKey('ES256', 'client-1');
  jwksServer = createServer((req, res) => {
    // /down answers 503; /leaky publishes the edge key with its private half
    if (req.url === '/leaky') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [edge.privateJwk] }));
    else res.writeHead(503).end();
  });
  base = `http://127.0.0.1:${await listenOnFreePort(jwksServer)}`;
  const issuers = scratch.file('issuers.json', { [DOWN]: `${base}/down?token=s3cret`, [LEAKY]: `${base}/leaky` });
  serve = await startServe(['--issuers', issuers, '--port', '0', '--host', '127.0.0.1']);
}, 20_000);

afterAll(async () => {
  await serve?.stop();
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  scratch.cleanup();
});

/**
 * Sends a request with a ticket of `iss`, asserts it is 401 bad-ticket, and returns the lines
 * serve printed about `iss` once one is there (and everything it printed).
 */
async function refusedTicketLines(iss: string): Promise<{ lines: string[]; output: string }> {
  const response = await fetch(`${serve.url}/`, { headers: rawTicketHeaders(edge.privateJwk, client.privateJwk, iss, `${serve.url}/`) });
  expect([response.status, ((await response.json()) as { reason: string }).reason]).toEqual([401, 'bad-ticket']);
  for (let i = 0; i < 100 && !serve.output().includes(iss); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const output = serve.output();
  return { lines: output.split('\n').filter((line) => line.includes(iss)), output };
}

describe('--issuers with an issuer given by URL', () => {
  it('a failed fetch is one stderr line naming --issuers, the issuer and the URL without its query; the ticket is 401 bad-ticket', async () => {
    const { lines, output } = await refusedTicketLines(DOWN);
    expect(lines).toEqual([`ipstamp serve: --issuers issuers["${DOWN}"] ${base}/down: not a 200 answer; no key of it is in use: its tickets are refused`]);
    expect(output).not.toContain('s3cret');
  });

  it('a published private key is not used, and the line says which key and why', async () => {
    const { lines } = await refusedTicketLines(LEAKY);
    expect(lines).toEqual([
      `ipstamp serve: --issuers issuers["${LEAKY}"] ${base}/leaky: keys[0] (kid "edge-1"): publishes a private key (it has "d"): anyone can sign with it, so it is not used; no key of it is in use: its tickets are refused`,
    ]);
  });
});
