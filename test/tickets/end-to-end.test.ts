import { exportJWK, generateKeyPair } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, createStamper, generateStampKey } from '../../client/index.node.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { requireBinary } from '../support/binaries.js';
import { startHaproxy, type RunningProxy } from '../support/haproxy.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePorts } from '../support/ports.js';

/**
 *   client 127.0.0.5 ──► HAProxy mode tcp, send-proxy-v2 ──► edge: ipstamp serve --issuer-key
 *          │                                                   (sees 127.0.0.5 in the PROXY header)
 *          └─────────► HAProxy mode http (strips forwarding headers, adds none) ──► api: ipstamp serve --issuers
 *                                                              (sees only the hop, 127.0.0.1, which it trusts)
 * The api cannot observe the client; the edge's ticket says where it is, and only the holder
 * of the ticket's key can use it.
 */
const haproxy = requireBinary('haproxy');
const CLIENT = '127.0.0.5';
const EDGE = 'http://edge.example';

describe.skipIf(!haproxy)('tickets end to end: an issuer behind HAProxy send-proxy-v2, a verifier behind a plain HTTP hop', () => {
  const scratch = scratchDir();
  const client = new Agent({ localAddress: CLIENT });
  const fetchAsClient = (input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: client });
  let edge: RunningServe;
  let api: RunningServe;
  let proxy: RunningProxy;
  let registered: TestKeyPair;
  let edgeUrl = '';
  let apiUrl = '';

  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
    const { d: _private, ...issuerPublic } = issuerKey;
    const issuers = scratch.file('issuers.json', { [EDGE]: { keys: [issuerPublic] } });
    registered = await makeKey('ES256', 'registered');
    edge = await startServe([
      '--port',
      '0',
      '--issuers',
      issuers,
      '--issuer-key',
      scratch.file('issuer.json', issuerKey),
      '--issuer-origin',
      EDGE,
      '--proxy-protocol',
      '--trusted-proxies',
      '127.0.0.1',
      '--log-level',
      'warn',
    ]);
    api = await startServe([
      '--port',
      '0',
      '--issuers',
      issuers,
      '--keys',
      scratch.file('keys.json', { keys: [registered.publicJwk] }),
      '--trusted-proxies',
      '127.0.0.1',
      '--log-level',
      'warn',
    ]);
    const [toEdge, toApi] = (await freePorts(2)) as [number, number];
    proxy = await startHaproxy(
      haproxy!,
      `
defaults
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend edge
    mode tcp
    bind 127.0.0.1:${toEdge}
    default_backend edge

backend edge
    mode tcp
    server edge 127.0.0.1:${edge.port} send-proxy-v2

frontend hop
    mode http
    bind 127.0.0.1:${toApi}
    http-request del-header x-forwarded-for
    http-request del-header forwarded
    default_backend api

backend api
    mode http
    server api 127.0.0.1:${api.port}
`,
      [toEdge, toApi],
    );
    edgeUrl = `http://127.0.0.1:${toEdge}`;
    apiUrl = `http://127.0.0.1:${toApi}`;
  }, 30_000);

  afterAll(async () => {
    await proxy?.stop();
    await edge?.stop();
    await api?.stop();
    await client.close();
    scratch.cleanup();
  });

  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: the Node SDK gets a ticket through HAProxy and the api accepts it — source ticket, ip 127.0.0.5, no key registered`, async () => {
      const key = await generateStampKey({ alg });
      const stampedFetch = createStampedFetch({ key, ip: 'ticket', issuer: edgeUrl, fetch: fetchAsClient });
      for (const [method, path] of [
        ['GET', '/orders'],
        ['POST', '/orders/42'],
      ] as const) {
        const response = await stampedFetch(`${apiUrl}${path}`, { method, ...(method === 'POST' ? { body: '{"item":"tea"}' } : {}) });
        expect(response.status).toBe(200);
        const verdict = (await response.json()) as Record<string, unknown>;
        expect(verdict).toMatchObject({
          ip: CLIENT,
          source: 'ticket',
          issuer: EDGE,
          kid: key.kid,
          agreement: 'unverifiable', // the api sees only the hop it trusts; the edge saw the client
          hints: { l3: '127.0.0.1' },
        });
        expect(verdict.hints).not.toHaveProperty('observed');
      }
    });
  }

  it('without a ticket the same address, signed by a registered key, is refused: the api cannot observe it (ip-unverifiable)', async () => {
    const url = `${apiUrl}/orders`;
    const stamp = await createStamper({ key: registered.privateJwk, ip: CLIENT }).stamp({ method: 'GET', url });
    const response = await fetchAsClient(url, { headers: { 'client-ip-attestation': stamp } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { reason: string }).reason).toBe('ip-unverifiable');
  });

  it('ipstamp attack through both proxies, as 127.0.0.5 with no key of its own: every ticket attack rejected, exit 0', async () => {
    const run = await runCli(['attack', '--target', `${apiUrl}/orders`, '--issuer', edgeUrl, '--local-address', CLIENT, '--ticket-wait', '0', '--json'], {
      timeoutMs: 20_000,
    });
    const report = JSON.parse(run.stdout) as { exitCode: number; results: { name: string; verdict: string; got: string }[] };
    expect(report.results.filter((r) => r.verdict !== 'pass' && r.verdict !== 'skip').map((r) => `${r.name}: ${r.got}`)).toEqual([]);
    expect(report.results.filter((r) => r.verdict === 'skip').map((r) => r.name)).toEqual([
      'ticket-request-from-trusted-hop',
      'ticket-request-unknown-forwarded',
      'ticket-expired',
    ]);
    // a forwarding header the client wrote at the edge changed nothing: HAProxy's PROXY header decides
    expect(report.results.find((r) => r.name === 'ticket-spoofed-forwarding-at-issuer')?.got).toBe('401 binding-mismatch');
    expect(report.results.find((r) => r.name === 'control-ticket')?.got).toBe('200 accepted (unverifiable, ticket)');
    expect(run.code).toBe(0);
  });
});
