import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest, createServer as createHttpsServer } from 'node:https';
import { createSecureServer, createServer as createH2cServer } from 'node:http2';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp, type IpStampNodeMiddleware } from '../../server/node/middleware.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { requireBinary } from '../support/binaries.js';
import { h2Session } from '../support/h2-session.js';
import { makeKey } from '../support/keys.js';
import { makeTestCertificate, type TestCertificate } from '../support/tls-certificate.js';

/**
 * `trackPeerAddresses` on the servers whose requests do not carry the socket accepted: node:https
 * hands them the TLS socket made over it, node:http2 a stand-in made per stream (cleartext or
 * TLS) that reads nothing once the session is gone. Regression (2026-12-07): on all three the
 * peer recorded at accept was never found, so a request verified after its client had gone
 * read l3 as unknown and was refused `ip-unverifiable`, where HTTP/1.1 keeps the peer (PROTOCOL §4.1).
 * Each server verifies a request only once the client has gone, and reports what it decided.
 */
const openssl = requireBinary('openssl');

describe.skipIf(!openssl)('the peer read at accept, after the client has gone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipstamp-peer-'));
  let certificate: TestCertificate;
  let stamper: Stamper;
  let stamp: IpStampNodeMiddleware;

  beforeAll(async () => {
    certificate = makeTestCertificate(openssl!, dir);
    const key = await makeKey('HS256', 'peer-hs');
    stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
    stamp = ipstamp({ keys: { keys: [key.publicJwk] } });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Sends a stamped GET of /orders; its answer is the client's means to hang up. */
  type Send = (port: number, token: string) => () => void;

  /**
   * A tracked server that, once it has a request, has its client hang up and verifies the
   * request when its response has closed: `accepted <l3>`, or the reason of the refusal.
   */
  async function verdictAfterClientGone(server: NetServer, send: Send, scheme: string): Promise<string> {
    trackPeerAddresses(server);
    let hangUp = (): void => {};
    const verdict = new Promise<string>((resolve) => {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        res.once('close', () => {
          // the refusal goes to a response nobody reads: what it would say is the verdict
          res.setHeader = () => res;
          res.end = ((body: string) => resolve((JSON.parse(body) as { reason: string }).reason)) as typeof res.end;
          stamp(req, res, () => resolve(`accepted ${req.ipStamp?.hints.l3}`));
        });
        hangUp();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    hangUp = send(port, await stamper.stamp({ method: 'GET', url: `${scheme}://127.0.0.1:${port}/orders` }));
    try {
      return await verdict;
    } finally {
      server.close();
    }
  }

  /** An HTTP/2 GET; hanging up destroys its session. */
  function h2Get(scheme: string): Send {
    return (port, token) => {
      const session = h2Session(`${scheme}://127.0.0.1:${port}`, { ca: certificate.certPem });
      session.request({ ':path': '/orders', 'client-ip-attestation': token }).on('error', () => {});
      return () => session.destroy();
    };
  }

  it('node:http2 cleartext', async () => {
    expect(await verdictAfterClientGone(createH2cServer(), h2Get('http'), 'http')).toBe('accepted 127.0.0.1');
  });

  it('node:http2 over TLS', async () => {
    const server = createSecureServer({ key: readFileSync(certificate.keyFile), cert: certificate.certPem });
    expect(await verdictAfterClientGone(server, h2Get('https'), 'https')).toBe('accepted 127.0.0.1');
  });

  it('node:https', async () => {
    const server = createHttpsServer({ key: readFileSync(certificate.keyFile), cert: certificate.certPem });
    const send: Send = (port, token) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/orders', ca: certificate.certPem, headers: { 'client-ip-attestation': token } });
      req.on('error', () => {});
      req.end();
      return () => req.destroy();
    };
    expect(await verdictAfterClientGone(server, send, 'https')).toBe('accepted 127.0.0.1');
  });
});
