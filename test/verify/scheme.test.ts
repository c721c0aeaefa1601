import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { createTicketIssuer, type TicketIssuerOptions } from '../../server/issuer/issuer.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { networkHints } from '../../server/verify/network-hints.js';
import { compileOptions, type VerifierOptions } from '../../server/verify/options.js';
import { requestScheme } from '../../server/verify/scheme.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { ConnectionHints, HeaderMap, VerifyInput } from '../../server/verify/types.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';
import { nodePlatform } from '../../server/verify/node-platform.js';

/**
 * Issue 12 item 3: which evidence names the scheme of the Host-based origin. Proxies are
 * 10.0.0.0/8; the client is 192.0.2.7. Order: configured origins; the PROXY v2 SSL TLV from a
 * trusted l3; the protocol header from a trusted immediate peer (the entry the outermost
 * trusted hop wrote); the connection.
 */
const CLIENT = '192.0.2.7';
const EDGE = '10.0.0.1';
const INNER = '10.0.0.2';

function decide(connection: ConnectionHints, headers: HeaderMap = {}, options: Partial<VerifierOptions> = {}, protocol?: 'http' | 'https'): string {
  const opts = compileOptions({ keys: { keys: [] }, replayStore: new MapReplayStore(), trustedProxies: '10.0.0.0/8', ...options }, nodePlatform);
  const input: Pick<VerifyInput, 'headers' | 'hints' | 'protocol'> = { headers, hints: connection };
  if (protocol) input.protocol = protocol;
  const { scheme, from } = requestScheme(input, networkHints(input, opts), opts);
  return `${scheme} ${from}`;
}

describe('the precedence table', () => {
  it.each<[string, ConnectionHints, HeaderMap, Partial<VerifierOptions>, string]>([
    // (4) the connection, when no trusted evidence speaks
    ['a client straight on a plain socket', { l3: CLIENT, tls: false }, {}, {}, 'http connection'],
    ['a client straight on a TLS socket', { l3: CLIENT, tls: true }, {}, {}, 'https connection'],
    ['an untrusted client writing X-Forwarded-Proto: https', { l3: CLIENT, tls: false }, { 'x-forwarded-proto': 'https' }, {}, 'http connection'],
    ['an untrusted client on TLS writing X-Forwarded-Proto: http', { l3: CLIENT, tls: true }, { 'x-forwarded-proto': 'http' }, {}, 'https connection'],
    [
      'an untrusted client writing Forwarded proto=https',
      { l3: CLIENT },
      { forwarded: 'for=192.0.2.7;proto=https' },
      { protoHeader: 'forwarded' },
      'http connection',
    ],
    ['an SSL TLV on a connection from an untrusted peer', { l3: CLIENT, tls: false, proxyTls: true }, {}, {}, 'http connection'],
    // (2) the PROXY v2 SSL TLV from a trusted l3
    ['HAProxy tcp, send-proxy-v2-ssl, client on TLS', { l3: EDGE, l4: CLIENT, proxyTls: true, tls: false }, {}, {}, 'https proxy-tls'],
    ['HAProxy tcp, send-proxy-v2-ssl, client on plain TCP, re-encrypted to us', { l3: EDGE, l4: CLIENT, proxyTls: false, tls: true }, {}, {}, 'http proxy-tls'],
    [
      'the SSL TLV beats a trusted header',
      { l3: EDGE, l4: INNER, proxyTls: true },
      { 'x-forwarded-proto': 'http', 'x-forwarded-for': CLIENT },
      {},
      'https proxy-tls',
    ],
    ['the SSL TLV beats configured protoHeader: false', { l3: EDGE, l4: CLIENT, proxyTls: true }, {}, { protoHeader: false }, 'https proxy-tls'],
    // send-proxy-v2 without -ssl: no TLV, so no word on the scheme from the PROXY layer
    [
      'plain send-proxy-v2: the client header through l4 is not believed',
      { l3: EDGE, l4: CLIENT, tls: false },
      { 'x-forwarded-proto': 'https' },
      {},
      'http connection',
    ],
    [
      'plain send-proxy-v2 from a trusted l4 proxy: its header counts',
      { l3: EDGE, l4: INNER },
      { 'x-forwarded-proto': 'https', 'x-forwarded-for': CLIENT },
      {},
      'https proto-header',
    ],
    // (3) the protocol header from a trusted immediate peer
    [
      'HAProxy http, set-header X-Forwarded-Proto https',
      { l3: EDGE, tls: false },
      { 'x-forwarded-proto': 'https', 'x-forwarded-for': CLIENT },
      {},
      'https proto-header',
    ],
    [
      'the header beats the connection (TLS re-encrypted to us, client on http)',
      { l3: EDGE, tls: true },
      { 'x-forwarded-proto': 'http' },
      {},
      'http proto-header',
    ],
    ['any case, OWS trimmed', { l3: EDGE }, { 'x-forwarded-proto': ' HTTPS\t' }, {}, 'https proto-header'],
    ['a value that is not http/https: the connection decides', { l3: EDGE, tls: true }, { 'x-forwarded-proto': 'wss' }, {}, 'https connection'],
    ['an empty value: the connection decides', { l3: EDGE, tls: false }, { 'x-forwarded-proto': '' }, {}, 'http connection'],
    ['protoHeader: false: nothing is read', { l3: EDGE, tls: false }, { 'x-forwarded-proto': 'https' }, { protoHeader: false }, 'http connection'],
    ['protoHeader forwarded: X-Forwarded-Proto is ignored', { l3: EDGE }, { 'x-forwarded-proto': 'https' }, { protoHeader: 'forwarded' }, 'http connection'],
    ['protoHeader forwarded: its proto=', { l3: EDGE }, { forwarded: 'for=192.0.2.7;proto=https' }, { protoHeader: 'forwarded' }, 'https proto-header'],
    [
      'forwardedHeader forwarded makes Forwarded the default protocol header',
      { l3: EDGE },
      { forwarded: 'for=192.0.2.7;proto=https', 'x-forwarded-proto': 'http' },
      { forwardedHeader: 'forwarded' },
      'https proto-header',
    ],
    [
      'an element without proto=: the connection decides',
      { l3: EDGE, tls: false },
      { forwarded: 'for=192.0.2.7' },
      { protoHeader: 'forwarded' },
      'http connection',
    ],
    [
      'a malformed element: the connection decides',
      { l3: EDGE, tls: false },
      { forwarded: 'for=192.0.2.7;proto=https;proto=https' },
      { protoHeader: 'forwarded' },
      'http connection',
    ],
    ['a quoted proto', { l3: EDGE }, { forwarded: 'for=192.0.2.7;proto="https"' }, { protoHeader: 'forwarded' }, 'https proto-header'],
  ])('%s → %s', (_what, connection, headers, options, expected) => {
    expect(decide(connection, headers, options)).toBe(expected);
  });

  it('without hints.tls, the input protocol is the connection; hints.tls wins over it', () => {
    expect(decide({ l3: CLIENT }, {}, {}, 'https')).toBe('https connection');
    expect(decide({ l3: CLIENT }, {}, {}, undefined)).toBe('http connection');
    expect(decide({ l3: CLIENT, tls: false }, {}, {}, 'https')).toBe('http connection');
  });
});

describe('several protocol-header entries: the one the outermost trusted hop wrote', () => {
  const viaEdge = { l3: EDGE } as const;
  it.each<[string, HeaderMap, Partial<VerifierOptions>, string]>([
    ['one trusted hop appended after a client-written entry', { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'https, http' }, {}, 'http proto-header'],
    ['the same as two instances', { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': ['https', 'http'] }, {}, 'http proto-header'],
    ['two trusted hops, both appended', { 'x-forwarded-for': `${CLIENT}, ${INNER}`, 'x-forwarded-proto': 'https, http' }, {}, 'https proto-header'],
    [
      'two trusted hops, both appended after a client-written entry',
      { 'x-forwarded-for': `${CLIENT}, ${INNER}`, 'x-forwarded-proto': 'https, http, http' },
      {},
      'http proto-header',
    ],
    [
      'two trusted hops, the header set once (replaced, not appended)',
      { 'x-forwarded-for': `${CLIENT}, ${INNER}`, 'x-forwarded-proto': 'https' },
      {},
      'https proto-header',
    ],
    [
      'the hop count stops at the first untrusted address',
      { 'x-forwarded-for': `${INNER}, ${CLIENT}`, 'x-forwarded-proto': 'https, http' },
      {},
      'http proto-header',
    ],
    ['the hop count stops at an invalid entry', { 'x-forwarded-for': `${INNER}, unknown`, 'x-forwarded-proto': 'https, http' }, {}, 'http proto-header'],
    [
      'the outermost trusted hop wrote garbage: the connection decides',
      { 'x-forwarded-for': `${CLIENT}, ${INNER}`, 'x-forwarded-proto': 'ftp, https' },
      {},
      'http connection',
    ],
    [
      'an inner hop wrote garbage: the outermost hop still decides',
      { 'x-forwarded-for': `${CLIENT}, ${INNER}`, 'x-forwarded-proto': 'https, ftp' },
      {},
      'https proto-header',
    ],
    [
      'Forwarded: the element that names the client',
      { forwarded: `for=${CLIENT};proto=https, for=${INNER};proto=http` },
      { forwardedHeader: 'forwarded' },
      'https proto-header',
    ],
    [
      'Forwarded: a client-written element to the left is never reached',
      { forwarded: [`for=198.51.100.1;proto=http`, `for=${CLIENT};proto=https, for=${INNER};proto=http`] },
      { forwardedHeader: 'forwarded' },
      'https proto-header',
    ],
  ])('%s → %s', (_what, headers, options, expected) => {
    expect(decide(viaEdge, headers, options)).toBe(expected);
  });
});

describe('the verifier: step 9 with the scheme from trusted evidence', () => {
  const NOW = 1_764_000_000_000;
  let key: TestKeyPair;
  let n = 0;
  beforeAll(async () => {
    key = await makeKey('ES256', 'k1');
  });

  async function verify(htu: string, connection: ConnectionHints, headers: HeaderMap = {}, options: Partial<VerifierOptions> = {}): Promise<string> {
    const token = signRaw(
      key.privateJwk,
      { alg: 'ES256', typ: 'ipstamp+jwt', kid: 'k1' },
      { ip: CLIENT, iat: NOW / 1000, jti: `jti-${String(++n).padStart(20, '0')}`, htm: 'GET', htu },
    );
    const verifier = createVerifierCore({
      keys: { keys: [key.publicJwk] },
      replayStore: new MapReplayStore(),
      now: () => NOW,
      trustedProxies: '10.0.0.0/8',
      ...options,
    });
    const result = await verifier.verify({
      method: 'GET',
      url: '/orders',
      headers: { host: 'api.example.com', 'client-ip-attestation': token, ...headers },
      hints: connection,
    });
    return result.ok ? result.verdict!.agreement : result.reason;
  }

  it('an https stamp through a TLS-terminating proxy matches, from the header or the SSL TLV', async () => {
    expect(await verify('https://api.example.com/orders', { l3: EDGE, tls: false }, { 'x-forwarded-proto': 'https', 'x-forwarded-for': CLIENT })).toBe('match');
    expect(await verify('https://api.example.com/orders', { l3: EDGE, l4: CLIENT, proxyTls: true })).toBe('match');
  });

  it('the same stamp without trusted evidence is binding-mismatch', async () => {
    expect(await verify('https://api.example.com/orders', { l3: CLIENT, tls: false }, { 'x-forwarded-proto': 'https' })).toBe('binding-mismatch');
    expect(await verify('https://api.example.com/orders', { l3: EDGE, l4: CLIENT }, { 'x-forwarded-proto': 'https' })).toBe('binding-mismatch');
    expect(await verify('http://api.example.com/orders', { l3: EDGE, tls: false }, { 'x-forwarded-proto': 'https', 'x-forwarded-for': CLIENT })).toBe(
      'binding-mismatch',
    );
  });

  it('configured origins come first: the evidence is not consulted', async () => {
    const origins = { origins: ['https://api.example.com'] };
    expect(await verify('https://api.example.com/orders', { l3: CLIENT, tls: false }, {}, origins)).toBe('match');
    expect(await verify('http://api.example.com/orders', { l3: EDGE, tls: false }, { 'x-forwarded-proto': 'http', 'x-forwarded-for': CLIENT }, origins)).toBe(
      'binding-mismatch',
    );
  });

  it('a wrong protoHeader is a TypeError naming it, at setup', () => {
    const make = (protoHeader: unknown) => () =>
      createVerifierCore({ keys: { keys: [] }, replayStore: new MapReplayStore(), protoHeader } as unknown as VerifierOptions);
    for (const bad of ['x-real-ip', 'x_forwarded_proto', true, null, 0, '']) {
      expect(make(bad)).toThrow(TypeError);
      expect(make(bad)).toThrow(/^protoHeader must be one of/);
    }
    for (const good of ['x-forwarded-proto', 'X-Forwarded-Proto', 'forwarded', false, undefined]) expect(make(good)).not.toThrow();
  });
});

describe('the ticket issuer binds its proofs the same way', () => {
  async function issue(connection: ConnectionHints, headers: HeaderMap, options: Partial<TicketIssuerOptions> = {}): Promise<string> {
    const issuerPair = await generateKeyPair('ES256', { extractable: true });
    const issuer = createTicketIssuer({
      key: { ...(await exportJWK(issuerPair.privateKey)), kid: 'edge-1', alg: 'ES256' },
      replayStore: new MapReplayStore(),
      trustedProxies: '10.0.0.0/8',
      ...options,
    });
    const client = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = (await exportJWK(client.publicKey)) as ClientPublicJwk;
    const proof = await createTicketRequestProof(
      { privateKey: client.privateKey, publicJwk, alg: 'ES256' },
      'https://edge.example.com/.well-known/ipstamp/ticket',
    );
    const result = await issuer.issue({
      method: 'POST',
      url: '/.well-known/ipstamp/ticket',
      headers: { host: 'edge.example.com', 'client-ip-attestation': proof, ...headers },
      hints: connection,
    });
    return result.ok ? `ticket for ${result.ip}` : result.reason;
  }

  it('behind a TLS-terminating proxy that writes X-Forwarded-Proto: a ticket, no origins configured', async () => {
    expect(await issue({ l3: EDGE, tls: false }, { 'x-forwarded-proto': 'https', 'x-forwarded-for': CLIENT })).toBe(`ticket for ${CLIENT}`);
    expect(await issue({ l3: EDGE, l4: CLIENT, proxyTls: true }, {})).toBe(`ticket for ${CLIENT}`);
  });

  it('the same header from an untrusted client, or with protoHeader: false, is binding-mismatch', async () => {
    expect(await issue({ l3: CLIENT, tls: false }, { 'x-forwarded-proto': 'https' })).toBe('binding-mismatch');
    expect(await issue({ l3: EDGE, tls: false }, { 'x-forwarded-proto': 'https', 'x-forwarded-for': CLIENT }, { protoHeader: false })).toBe('binding-mismatch');
  });
});
