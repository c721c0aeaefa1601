import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { readServeConfig } from '../../server/cli/serve-config.js';
import { requireBinary } from '../support/binaries.js';
import { startHaproxy, type RunningProxy } from '../support/haproxy.js';
import { makeKey } from '../support/keys.js';
import { makeTestCertificate } from '../support/tls-certificate.js';
import { startNginx } from '../support/nginx.js';
import { freePorts } from '../support/ports.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

/**
 * Issue 12 item 3: TLS terminated at the load balancer. The client (bound to 127.0.0.5)
 * speaks https to the proxy, so the stamp's htu says `https://…`; the verifier behind it
 * sees plain TCP and must learn the scheme from trusted evidence — never from `--origin`,
 * which no test here gives. Verifiers trust only 127.0.0.1, where the proxies connect from.
 */
const haproxy = requireBinary('haproxy');
const nginx = requireBinary('nginx');
const openssl = requireBinary('openssl');
const CLIENT = '127.0.0.5';

interface Answer {
  status: number;
  body: { agreement?: string; reason?: string; ip?: string; hints?: Record<string, unknown> };
}

describe.skipIf(!openssl || !(haproxy || nginx))('TLS terminated in front of ipstamp serve, no --origin', () => {
  const scratch = scratchDir();
  let stamper: Stamper;
  let client: Agent;
  let httpVerifier: RunningServe; // behind HTTP proxies: trusts X-Forwarded-For / X-Forwarded-Proto from 127.0.0.1
  let forwardedVerifier: RunningServe; // the same with --forwarded-header forwarded --proto-header forwarded
  let proxyVerifier: RunningServe; // --proxy-protocol: behind HAProxy mode tcp

  beforeAll(async () => {
    // a self-signed certificate for 127.0.0.1, and the key beside it in one PEM for HAProxy
    const certificate = makeTestCertificate(openssl!, scratch.dir);
    client = new Agent({ localAddress: CLIENT, connect: { ca: certificate.certPem } });

    const pair = await makeKey('ES256', 'tls-edge');
    stamper = createStamper({ key: pair.privateJwk, ip: CLIENT });
    const keys = scratch.file('keys.json', { keys: [pair.publicJwk] });
    const common = ['--port', '0', '--keys', keys, '--trusted-proxies', '127.0.0.1'];
    [httpVerifier, forwardedVerifier, proxyVerifier] = await Promise.all([
      startServe(common),
      startServe([...common, '--forwarded-header', 'forwarded', '--proto-header', 'forwarded']),
      startServe([...common, '--proxy-protocol']),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([httpVerifier?.stop(), forwardedVerifier?.stop(), proxyVerifier?.stop()]);
    await client?.close();
    scratch.cleanup();
  });

  /** A fresh stamp for GET `url` (htu is what the URL says), sent to `url` from 127.0.0.5. */
  async function send(url: string, headers: Record<string, string> = {}, signedUrl = url): Promise<Answer> {
    const token = await stamper.stamp({ method: 'GET', url: signedUrl });
    const response = await undiciFetch(url, { dispatcher: client, headers: { ...headers, 'client-ip-attestation': token } });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  }

  function expectMatch(answer: Answer): void {
    expect(answer.body).toMatchObject({ agreement: 'match', ip: CLIENT });
    expect(answer.status).toBe(200);
  }

  function expectRefused(answer: Answer, reason: string): void {
    expect(answer.body.reason).toBe(reason);
    expect(answer.status).toBe(401);
  }

  describe.skipIf(!haproxy)('HAProxy 2.6 terminating TLS', () => {
    let proxy: RunningProxy;
    let httpMode = 0;
    let tcpSsl = 0;
    let tcpPlainV2 = 0;
    beforeAll(async () => {
      [httpMode, tcpSsl, tcpPlainV2] = (await freePorts(3)) as [number, number, number];
      const bundle = join(scratch.dir, 'bundle.pem');
      proxy = await startHaproxy(
        haproxy!,
        `
defaults
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend https_http_mode
    mode http
    bind 127.0.0.1:${httpMode} ssl crt ${bundle}
    option forwardfor
    http-request set-header X-Forwarded-Proto https
    default_backend verifier_http

backend verifier_http
    mode http
    server verifier 127.0.0.1:${httpVerifier.port}

frontend https_tcp_mode
    mode tcp
    bind 127.0.0.1:${tcpSsl} ssl crt ${bundle}
    default_backend verifier_ssl_tlv

backend verifier_ssl_tlv
    mode tcp
    server verifier 127.0.0.1:${proxyVerifier.port} send-proxy-v2-ssl

frontend https_tcp_mode_plain_v2
    mode tcp
    bind 127.0.0.1:${tcpPlainV2} ssl crt ${bundle}
    default_backend verifier_plain_v2

backend verifier_plain_v2
    mode tcp
    server verifier 127.0.0.1:${proxyVerifier.port} send-proxy-v2
`,
        [httpMode, tcpSsl, tcpPlainV2],
      );
    }, 30_000);
    afterAll(async () => proxy?.stop());

    it('mode http, option forwardfor + X-Forwarded-Proto https: an https stamp matches', async () => {
      const answer = await send(`https://127.0.0.1:${httpMode}/orders`);
      expectMatch(answer);
      expect(answer.body.hints).toMatchObject({ l3: '127.0.0.1', l7: [CLIENT], observed: CLIENT });
    });

    it('mode http: a client-sent X-Forwarded-Proto: http is overwritten by HAProxy and changes nothing', async () => {
      expectMatch(await send(`https://127.0.0.1:${httpMode}/orders`, { 'x-forwarded-proto': 'http' }));
    });

    it('mode tcp, send-proxy-v2-ssl (SSL TLV, client flag 0x01) to serve --proxy-protocol: an https stamp matches', async () => {
      const answer = await send(`https://127.0.0.1:${tcpSsl}/orders`);
      expectMatch(answer);
      expect(answer.body.hints).toMatchObject({ l3: '127.0.0.1', l4: CLIENT, observed: CLIENT, decidedBy: 'l4' });
    });

    it('negative control: plain send-proxy-v2 (no SSL TLV) in front of a TLS bind is binding-mismatch', async () => {
      expectRefused(await send(`https://127.0.0.1:${tcpPlainV2}/orders`), 'binding-mismatch');
      // the PROXY layer's l4 hint is not a scheme, and the client's own header counts for nothing
      expectRefused(await send(`https://127.0.0.1:${tcpPlainV2}/orders`, { 'x-forwarded-proto': 'https' }), 'binding-mismatch');
    });
  });

  describe.skipIf(!nginx)('nginx 1.22 terminating TLS', () => {
    let proxy: RunningProxy;
    let xfp = 0;
    let forwarded = 0;
    beforeAll(async () => {
      [xfp, forwarded] = (await freePorts(2)) as [number, number];
      const tls = `ssl_certificate ${join(scratch.dir, 'cert.pem')};\n        ssl_certificate_key ${join(scratch.dir, 'key.pem')};`;
      proxy = await startNginx(
        nginx!,
        `
http {
    server {
        listen 127.0.0.1:${xfp} ssl;
        ${tls}
        location / {
            proxy_pass http://127.0.0.1:${httpVerifier.port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }
    server {
        listen 127.0.0.1:${forwarded} ssl;
        ${tls}
        location / {
            proxy_pass http://127.0.0.1:${forwardedVerifier.port};
            proxy_set_header Host $http_host;
            proxy_set_header Forwarded "for=$remote_addr;proto=$scheme";
        }
    }
}
`,
        [xfp, forwarded],
      );
    }, 30_000);
    afterAll(async () => proxy?.stop());

    it('http with X-Forwarded-Proto $scheme (+ X-Forwarded-For): an https stamp matches', async () => {
      const answer = await send(`https://127.0.0.1:${xfp}/orders`);
      expectMatch(answer);
      expect(answer.body.hints).toMatchObject({ l3: '127.0.0.1', l7: [CLIENT], observed: CLIENT });
    });

    it('http with Forwarded "for=…;proto=$scheme", serve --proto-header forwarded: an https stamp matches', async () => {
      expectMatch(await send(`https://127.0.0.1:${forwarded}/orders`));
    });
  });

  describe('straight to the verifier, no proxy', () => {
    it('negative control: an untrusted client sending X-Forwarded-Proto: https gets binding-mismatch for an https stamp', async () => {
      const direct = `http://127.0.0.1:${httpVerifier.port}/orders`;
      const claimed = `https://127.0.0.1:${httpVerifier.port}/orders`;
      expectRefused(await send(direct, { 'x-forwarded-proto': 'https' }, claimed), 'binding-mismatch');
      const directForwarded = `http://127.0.0.1:${forwardedVerifier.port}/orders`;
      const claimedForwarded = `https://127.0.0.1:${forwardedVerifier.port}/orders`;
      expectRefused(await send(directForwarded, { forwarded: 'for=127.0.0.5;proto=https' }, claimedForwarded), 'binding-mismatch');
      // the same client with an http stamp: accepted, so the refusal above was the scheme alone
      expectMatch(await send(direct, { 'x-forwarded-proto': 'https' }));
    });
  });
});

describe('serve --proto-header', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const keys = () => [
    '--keys',
    scratch.file('keys.json', { keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'h', alg: 'HS256' }] }),
  ];

  it('maps onto the verifier option: a header name, or none → false; absent → the verifier default', () => {
    expect(readServeConfig([...keys(), '--proto-header', 'forwarded']).verifier.protoHeader).toBe('forwarded');
    expect(readServeConfig([...keys(), '--proto-header', 'x-forwarded-proto']).verifier.protoHeader).toBe('x-forwarded-proto');
    expect(readServeConfig([...keys(), '--proto-header', 'none']).verifier.protoHeader).toBe(false);
    expect(readServeConfig(keys()).verifier.protoHeader).toBeUndefined();
  });

  it('anything else is a one-line usage error naming the flag (the verifier checks it; exit 2)', async () => {
    for (const bad of ['x-real-ip', 'false', '']) {
      const result = await runCli(['serve', ...keys(), '--proto-header', bad]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^ipstamp serve: --proto-header must be one of x-forwarded-proto, forwarded, none\n$/);
    }
  });
});
