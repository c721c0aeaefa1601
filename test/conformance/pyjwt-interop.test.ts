import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/stamper.js';
import { ticketKid } from '../../client/ticket-proof.js';
import { createTicketIssuer, type TicketIssuer } from '../../server/issuer/issuer.js';
import { createVerifier } from '../../server/verify/create-verifier.js';
import type { VerifyResult } from '../../server/verify/types.js';
import { createWebVerifier } from '../../server/web/index.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { isCI } from '../support/binaries.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { ticketClientOf } from '../support/ticket-client.js';
import type { ConformanceVector, VectorFile } from './vector-format.js';

/**
 * Interoperability with a second, independent JOSE implementation: PyJWT (Debian's
 * python3-jwt, with python3-cryptography) through pyjwt_peer.py, one Python process per batch.
 * Both directions of docs/protocol.md §2 and §7: PyJWT signs stamps and tickets that ipstamp's
 * verifiers (node:crypto and WebCrypto) accept; ipstamp's client SDK and issuer sign tokens that
 * PyJWT verifies; PyJWT's signature check agrees with every conformance vector that reaches §5
 * step 5; and tokens PyJWT can make but the protocol refuses are refused for §5's reasons.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';
const PEER = join(HERE, 'pyjwt_peer.py');

/** PyJWT is installed by `.ci/run` (python3-jwt): locally its absence skips loudly, under CI=true it fails. */
function pyjwtAvailable(): boolean {
  const problem = !existsSync(PYTHON)
    ? `${PYTHON} is not installed`
    : spawnSync(PYTHON, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' }).status !== 0
      ? `${PYTHON} cannot import jwt (Debian's python3-jwt)`
      : undefined;
  if (problem === undefined) return true;
  const message = `${problem}: the PyJWT interoperability tests cannot run (apt-get install python3-jwt, or run .ci/run)`;
  if (isCI) throw new Error(`CI=true and ${message}`);
  console.warn(`\n!!! SKIPPING: ${message}\n`);
  return false;
}
const HAS_PYJWT = pyjwtAvailable();

type Json = Record<string, unknown>;
interface Verified {
  ok: boolean;
  header?: Json;
  payload?: Json | null;
  error?: string;
}

/** Runs a batch of jobs in one PyJWT process (pyjwt_peer.py) and returns its answers, in order. */
function python<T>(jobs: Json[]): T[] {
  const out = execFileSync(PYTHON, [PEER], { input: JSON.stringify(jobs), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const answers = JSON.parse(out) as T[];
  expect(answers).toHaveLength(jobs.length);
  return answers;
}

const API = 'https://api.example.com';
const EDGE = 'https://edge.example.com';
const CLIENT = '203.0.113.7';
const PROXY = '127.0.0.1';
/** Direction 1 runs on a fixed clock (2026-01-01T00:00:00Z). */
const NOW = 1_767_225_600;
const NOW_MS = NOW * 1000;

const jti = () => randomBytes(16).toString('base64url');
const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
const decodeSegment = (token: string, index: number) => JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8')) as Json;

/** The two pipelines a stamp is checked by: createVerifier (node:crypto) and ipstamp/web (WebCrypto, a web Request). */
const PIPELINES = ['createVerifier (node:crypto)', 'createWebVerifier (WebCrypto)'] as const;
type Pipeline = (typeof PIPELINES)[number];

interface Sent {
  stamp: string;
  ticket?: string;
  method?: string;
  body?: string;
  /** The TCP peer: the client itself, or a trusted proxy that hides it (tickets). */
  l3?: string;
}

async function verifyWith(pipeline: Pipeline, keys: { keys: Json[] }, sent: Sent, issuers?: Record<string, { keys: Json[] }>): Promise<VerifyResult> {
  const options = {
    keys,
    origins: [API],
    now: () => NOW_MS,
    replayStore: new MapReplayStore(),
    ...(issuers === undefined ? {} : { issuers, trustedProxies: [`${PROXY}/32`] }),
  };
  const method = sent.method ?? 'GET';
  const headers: Record<string, string> = { 'client-ip-attestation': sent.stamp };
  if (sent.ticket !== undefined) headers['client-ip-ticket'] = sent.ticket;
  const l3 = sent.l3 ?? CLIENT;
  if (pipeline === 'createVerifier (node:crypto)') {
    const body = sent.body === undefined ? new Uint8Array(0) : new TextEncoder().encode(sent.body);
    return createVerifier(options).verify({ method, url: '/orders', protocol: 'https', headers: { host: 'api.example.com', ...headers }, body, hints: { l3 } });
  }
  if (sent.body !== undefined) headers['content-length'] = String(new TextEncoder().encode(sent.body).length);
  const request = new Request(`${API}/orders`, { method, headers, ...(sent.body === undefined ? {} : { body: sent.body }) });
  return createWebVerifier(options).verify(request, { l3 });
}

const outcome = (r: VerifyResult) => (r.ok ? (r.verdict === null ? 'passed unverified' : 'accepted') : r.reason);

describe.skipIf(!HAS_PYJWT)('PyJWT interoperability (python3-jwt)', () => {
  const ALGS = ['HS256', 'ES256', 'ES384', 'EdDSA'] as const;
  const keys: Record<string, TestKeyPair> = {};
  let otherEs: TestKeyPair;
  let otherEd: TestKeyPair;

  beforeAll(async () => {
    for (const alg of ALGS) keys[alg] = await makeKey(alg, `py-${alg.toLowerCase()}`);
    otherEs = await makeKey('ES256', 'py-es256');
    otherEd = await makeKey('EdDSA', 'py-eddsa');
  });
  const jwks = () => ({ keys: ALGS.map((alg) => keys[alg]!.publicJwk as Json) });

  describe('PyJWT signs (§2), ipstamp verifies', () => {
    interface Case {
      name: string;
      alg: (typeof ALGS)[number];
      claims: Json;
      method: string;
      body?: string;
    }
    const cases: Case[] = ALGS.flatMap((alg) => {
      const body = `{"order":"${alg}","amount":42}`;
      return [
        { name: `${alg}: GET, obs static`, alg, method: 'GET', claims: { ip: CLIENT, iat: NOW, jti: jti(), htm: 'GET', htu: `${API}/orders`, obs: 'static' } },
        {
          name: `${alg}: POST with cdg`,
          alg,
          method: 'POST',
          body,
          claims: { ip: CLIENT, iat: NOW - 3, jti: jti(), htm: 'POST', htu: `${API}/orders`, cdg: sha256(body) },
        },
      ];
    });
    let tokens: string[];
    beforeAll(() => {
      tokens = python<{ token: string }>(
        cases.map((c) => ({ op: 'sign', jwk: keys[c.alg]!.privateJwk, alg: c.alg, header: { typ: 'ipstamp+jwt', kid: keys[c.alg]!.kid }, claims: c.claims })),
      ).map((a) => a.token);
    });

    it('PyJWT wrote the JOSE header of §2.1 (alg, typ, kid), nothing else', () => {
      for (const [i, c] of cases.entries()) expect(decodeSegment(tokens[i]!, 0)).toEqual({ alg: c.alg, typ: 'ipstamp+jwt', kid: keys[c.alg]!.kid });
    });

    for (const pipeline of PIPELINES) {
      it(`${pipeline} accepts every PyJWT stamp (${ALGS.join(', ')}; with and without cdg) with the claims PyJWT signed`, async () => {
        for (const [i, c] of cases.entries()) {
          const result = await verifyWith(pipeline, jwks(), { stamp: tokens[i]!, method: c.method, ...(c.body === undefined ? {} : { body: c.body }) });
          expect(outcome(result), c.name).toBe('accepted');
          if (!result.ok || result.verdict === null) continue;
          const v = result.verdict;
          expect({ ip: v.ip, iat: v.iat, jti: v.jti, kid: v.kid, alg: v.alg, source: v.source, agreement: v.agreement }, c.name).toEqual({
            ip: CLIENT,
            iat: c.claims.iat,
            jti: c.claims.jti,
            kid: keys[c.alg]!.kid,
            alg: c.alg,
            source: 'stamp',
            agreement: 'match',
          });
        }
      });
    }

    describe('a ticketed stamp (§7.2–7.3): PyJWT as the issuer and as the client', () => {
      const combos = [
        { issuerAlg: 'ES256', clientAlg: 'EdDSA' },
        { issuerAlg: 'EdDSA', clientAlg: 'ES256' },
      ] as const;
      interface Ticketed {
        ticket: string;
        stamp: string;
        kid: string;
        tth: string;
      }
      let made: Ticketed[];
      let issuerKeys: TestKeyPair[];
      let clientKeys: TestKeyPair[];
      const stampJtis = combos.map(() => jti());
      beforeAll(async () => {
        issuerKeys = await Promise.all(combos.map((c) => makeKey(c.issuerAlg, `py-edge-${c.issuerAlg.toLowerCase()}`)));
        clientKeys = await Promise.all(combos.map((c) => makeKey(c.clientAlg, 'unused')));
        made = python<Ticketed>(
          combos.map((c, i) => ({
            op: 'ticketed',
            issuer: { jwk: issuerKeys[i]!.privateJwk, alg: c.issuerAlg, kid: issuerKeys[i]!.kid },
            client: { jwk: clientKeys[i]!.privateJwk, alg: c.clientAlg },
            ticket: { iss: EDGE, ip: CLIENT, iat: NOW - 60, exp: NOW + 240, jti: jti() },
            stamp: { ip: CLIENT, iat: NOW, jti: stampJtis[i], htm: 'GET', htu: `${API}/orders` },
          })),
        );
      });

      it("PyJWT's RFC 7638 thumbprint (the stamp's kid) is the client SDK's, and tth hashes the ticket text", async () => {
        for (const [i, m] of made.entries()) {
          const { kty, crv, x, y } = clientKeys[i]!.publicJwk;
          expect(m.kid).toBe(await ticketKid({ kty, crv, x, ...(y === undefined ? {} : { y }) } as ClientPublicJwk));
          expect(m.tth).toBe(sha256(m.ticket));
          expect(decodeSegment(m.ticket, 0)).toEqual({ alg: combos[i]!.issuerAlg, typ: 'ipstamp-ticket+jwt', kid: issuerKeys[i]!.kid });
        }
      });

      for (const pipeline of PIPELINES) {
        it(`${pipeline} accepts them behind a trusted proxy, source 'ticket' (issuer ES256 + client EdDSA; issuer EdDSA + client ES256)`, async () => {
          for (const [i, m] of made.entries()) {
            const issuers = { [EDGE]: { keys: [issuerKeys[i]!.publicJwk as Json] } };
            const result = await verifyWith(pipeline, { keys: [] }, { stamp: m.stamp, ticket: m.ticket, l3: PROXY }, issuers);
            expect(outcome(result), `${combos[i]!.issuerAlg} issuer`).toBe('accepted');
            if (!result.ok || result.verdict === null) continue;
            expect(result.verdict).toMatchObject({
              source: 'ticket',
              issuer: EDGE,
              ip: CLIENT,
              kid: m.kid,
              alg: combos[i]!.clientAlg,
              jti: stampJtis[i],
              agreement: 'unverifiable',
            });
          }
        });
      }
    });
  });

  describe('ipstamp signs, PyJWT verifies', () => {
    it('stamps of the client SDK (createStamper): signature, header and every claim, for HS256, ES256 (raw r‖s), ES384 and EdDSA', async () => {
      const body = '{"item":42}';
      const stamps: { alg: string; token: string; before: number }[] = [];
      for (const alg of ALGS) {
        const stamper = createStamper({ key: keys[alg]!.privateJwk, ip: CLIENT, bodyDigest: true });
        const before = Math.floor(Date.now() / 1000);
        stamps.push({ alg, before, token: await stamper.stamp({ method: 'post', url: `${API}/orders?id=1#top`, body }) });
      }
      // ES256/ES384 signatures are IEEE P1363 r‖s (RFC 7515 §3.4), not DER: PyJWT takes them as they are
      expect(Buffer.from(stamps[1]!.token.split('.')[2]!, 'base64url')).toHaveLength(64);
      expect(Buffer.from(stamps[2]!.token.split('.')[2]!, 'base64url')).toHaveLength(96);
      const answers = python<Verified>(stamps.map((s) => ({ op: 'verify', token: s.token, jwk: keys[s.alg]!.publicJwk, algorithms: [s.alg], claims: true })));
      for (const [i, s] of stamps.entries()) {
        const a = answers[i]!;
        expect(a.error, s.alg).toBeUndefined();
        expect(a.ok, s.alg).toBe(true);
        expect(a.header, s.alg).toEqual({ alg: s.alg, typ: 'ipstamp+jwt', kid: keys[s.alg]!.kid });
        expect(a.payload, s.alg).toEqual({
          ip: CLIENT,
          iat: expect.any(Number) as number,
          jti: expect.stringMatching(/^[A-Za-z0-9_-]{22,64}$/) as string,
          htm: 'POST',
          htu: `${API}/orders`,
          obs: 'static',
          cdg: sha256(body),
        });
        expect(a.payload, s.alg).toEqual(decodeSegment(s.token, 1));
        const iat = a.payload!.iat as number;
        expect(Number.isInteger(iat) && iat >= s.before - 1 && iat <= s.before + 60, `${s.alg} iat ${iat}`).toBe(true);
      }
    });

    describe("tickets of the project's issuer (server/issuer), and their stamps", () => {
      const ISSUER_ALGS = ['ES256', 'EdDSA'] as const;
      const issuers: TicketIssuer[] = [];
      beforeAll(async () => {
        for (const alg of ISSUER_ALGS) {
          const key = await makeKey(alg, `edge-${alg.toLowerCase()}`);
          issuers.push(createTicketIssuer({ key: key.privateJwk, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore() }));
        }
      });

      it('PyJWT verifies each ticket with the public key of the JWK Set the issuer publishes, loaded by PyJWKSet', async () => {
        const jobs: Json[] = [];
        const expected: { cnf: Json; kid: string; alg: string }[] = [];
        for (const [i, issuer] of issuers.entries()) {
          for (const clientAlg of ['ES256', 'EdDSA'] as const) {
            const client = await ticketClientOf(issuer.issue, clientAlg, { edge: EDGE, address: CLIENT, nowMs: Date.now() });
            const { kty, crv, x, y } = client.privateJwk;
            expected.push({ cnf: { kty, crv, x, ...(y === undefined ? {} : { y }) }, kid: issuer.jwks.keys[0]!.kid as string, alg: ISSUER_ALGS[i]! });
            jobs.push({ op: 'jwks', jwks: issuer.jwks, token: client.ticket });
          }
        }
        const answers = python<{ keys: Json[]; verified: Json | null; error?: string }>(jobs);
        for (const [i, a] of answers.entries()) {
          const want = expected[i]!;
          expect(a.keys, want.alg).toEqual([
            { kid: want.kid, kty: want.alg === 'ES256' ? 'EC' : 'OKP', algorithm: want.alg === 'ES256' ? 'ECAlgorithm' : 'OKPAlgorithm' },
          ]);
          expect(a.error, want.alg).toBeUndefined();
          expect(a.verified, want.alg).toMatchObject({ iss: EDGE, ip: CLIENT, cnf: { jwk: want.cnf } });
          expect((a.verified!.exp as number) - (a.verified!.iat as number)).toBe(300);
        }
      });

      it("PyJWT verifies a ticket with its claims checked (exp, iat), and the client SDK's stamp under it with cnf.jwk; PyJWT's thumbprint is the stamp's kid", async () => {
        const jobs: Json[] = [];
        const sent: { ticket: string; stamp: string; cnf: Json; clientAlg: string }[] = [];
        for (const issuer of issuers) {
          for (const clientAlg of ['ES256', 'EdDSA'] as const) {
            const client = await ticketClientOf(issuer.issue, clientAlg, { edge: EDGE, address: CLIENT, nowMs: Date.now() });
            const stamper = createStamper({ key: { ...client.privateJwk, kid: client.kid, alg: clientAlg }, ip: CLIENT });
            const stamp = await stamper.stamp({ method: 'GET', url: `${API}/orders`, claims: { obs: 'ticket', tth: sha256(client.ticket) } });
            const cnf = (decodeSegment(client.ticket, 1).cnf as { jwk: Json }).jwk;
            const issuerJwk = issuer.jwks.keys[0]!;
            sent.push({ ticket: client.ticket, stamp, cnf, clientAlg });
            jobs.push({ op: 'verify', token: client.ticket, jwk: issuerJwk, algorithms: [issuerJwk.alg], claims: true });
            jobs.push({ op: 'verify', token: stamp, jwk: cnf, algorithms: [clientAlg], claims: true });
            jobs.push({ op: 'thumbprint', jwk: cnf });
          }
        }
        const answers = python<Verified & { kid?: string }>(jobs);
        for (const [i, s] of sent.entries()) {
          const [ticket, stamp, thumbprint] = answers.slice(3 * i, 3 * i + 3) as [Verified, Verified, { kid: string }];
          expect(ticket.error).toBeUndefined();
          expect(ticket.payload).toEqual(decodeSegment(s.ticket, 1));
          expect(stamp.error).toBeUndefined();
          expect(stamp.header).toEqual({ alg: s.clientAlg, typ: 'ipstamp+jwt', kid: thumbprint.kid });
          expect(stamp.payload).toMatchObject({ ip: CLIENT, obs: 'ticket', tth: sha256(s.ticket), htm: 'GET', htu: `${API}/orders` });
        }
      });
    });
  });

  describe('the conformance vectors: PyJWT checks their signatures and agrees', () => {
    /** Reasons decided before §5 step 5 (and the ticket's own, §7.4): the signature is not what they are about. */
    const BEFORE_SIGNATURE = new Set(['missing', 'malformed', 'bad-header', 'unknown-key', 'bad-ticket']);
    /** Reasons decided before the ticket is looked at (§5 step 3½): a ticket beside them may be anything. */
    const BEFORE_TICKET = new Set(['missing', 'malformed', 'bad-header']);
    /** bad-ticket vectors whose ticket fails §7.4 item 4 (pinned alg, signature): PyJWT must refuse their tickets too. */
    const TICKET_SIGNATURE_FAILURES = new Set(['ticket-bad-signature', 'ticket-alg-not-pinned', 'ticket-alg-hmac']);
    const ALG_OF_CURVE: Record<string, string> = { 'P-256': 'ES256', Ed25519: 'EdDSA' };

    interface Check {
      id: string;
      what: 'stamp' | 'ticket' | 'proof';
      token: string;
      jwk: Json;
      alg: string;
      valid: boolean;
    }
    const checks: Check[] = [];
    const skipped: string[] = [];
    const VECTOR_DIR = join(HERE, 'vectors');
    for (const name of readdirSync(VECTOR_DIR).filter((n) => n.endsWith('.json'))) {
      const file = JSON.parse(readFileSync(join(VECTOR_DIR, name), 'utf8')) as VectorFile;
      for (const vector of file.vectors) collect(vector, file);
    }

    function segmentsOf(token: unknown): { header: Json; claims: Json | undefined } | undefined {
      if (typeof token !== 'string' || !/^[\w-]+\.[\w-]*\.[\w-]*$/.test(token)) return undefined;
      try {
        const header = decodeSegment(token, 0);
        let claims: Json | undefined;
        try {
          claims = decodeSegment(token, 1);
        } catch {
          claims = undefined;
        }
        return typeof header === 'object' && header !== null ? { header, claims } : undefined;
      } catch {
        return undefined;
      }
    }

    function collect(vector: ConformanceVector, file: VectorFile): void {
      const reason = vector.expect.ok ? 'accepted' : vector.expect.reason;
      const stamp = vector.request.headers['client-ip-attestation'];
      const parsed = segmentsOf(stamp);
      if (parsed === undefined || ('verdict' in vector.expect && vector.expect.verdict === null)) return void skipped.push(vector.id);
      const token = stamp as string;
      if (file.kind === 'ticket-request') {
        // the proof is signed with the key it carries; its alg is the one that fits the curve
        const jwk = parsed.header.jwk as Json | undefined;
        if (BEFORE_SIGNATURE.has(reason) || jwk === undefined) return void skipped.push(vector.id);
        checks.push({ id: vector.id, what: 'proof', token, jwk, alg: ALG_OF_CURVE[jwk.crv as string]!, valid: reason !== 'bad-signature' });
        return;
      }
      const ticketHeader = vector.request.headers['client-ip-ticket'];
      const ticket = segmentsOf(ticketHeader);
      if (ticket !== undefined && !BEFORE_TICKET.has(reason)) {
        // the ticket, signed by its issuer's key (pinned alg)
        const iss = ticket.claims?.iss as string | undefined;
        const issuerKey = iss === undefined ? undefined : vector.options.issuers?.[iss]?.keys.find((k) => k.kid === ticket.header.kid);
        const known = reason !== 'bad-ticket' || TICKET_SIGNATURE_FAILURES.has(vector.id);
        if (issuerKey !== undefined && known) {
          checks.push({
            id: vector.id,
            what: 'ticket',
            token: ticketHeader as string,
            jwk: issuerKey,
            alg: issuerKey.alg as string,
            valid: !TICKET_SIGNATURE_FAILURES.has(vector.id),
          });
        }
      }
      if (BEFORE_SIGNATURE.has(reason)) return void skipped.push(vector.id);
      if (ticket !== undefined) {
        const cnf = (ticket.claims?.cnf as { jwk: Json }).jwk;
        checks.push({ id: vector.id, what: 'stamp', token, jwk: cnf, alg: ALG_OF_CURVE[cnf.crv as string]!, valid: reason !== 'bad-signature' });
        return;
      }
      const key = (vector.keys ?? file.keys).keys.find((k) => k.kid === parsed.header.kid)!;
      checks.push({ id: vector.id, what: 'stamp', token, jwk: key, alg: key.alg as string, valid: reason !== 'bad-signature' });
    }

    it('every vector that reaches §5 step 5 is checked; the bad-signature ones, and tickets failing on their signature, are among them', () => {
      expect(checks.length).toBeGreaterThan(150);
      const refused = checks.filter((c) => !c.valid).map((c) => `${c.what} ${c.id}`);
      expect(refused.sort()).toEqual(
        [
          ...['stamp-05-bad-signature-tampered', 'stamp-05-bad-signature-other-secret', 'stamp-05-bad-signature-alg-not-the-keys'],
          ...['stamp-05-bad-signature-ed25519-for-eddsa-key', 'stamp-05-bad-signature-empty', 'stamp-05-before-claims'],
          ...['stamp-12p-unknown-l3-earlier-step-wins', 'ticket-stamp-bad-signature', 'ticket-stamp-alg-not-the-keys'],
        ]
          .map((id) => `stamp ${id}`)
          .concat(['issue-bad-signature-other-key', 'issue-bad-signature-alg-not-the-curve'].map((id) => `proof ${id}`))
          .concat([...TICKET_SIGNATURE_FAILURES].map((id) => `ticket ${id}`))
          .sort(),
      );
      expect(checks.filter((c) => c.what === 'ticket' && c.valid).length).toBeGreaterThan(5);
      expect(checks.filter((c) => c.what === 'proof' && c.valid).length).toBeGreaterThan(10);
    });

    it("PyJWT's verdict on each signature (key's alg pinned) is the vector's", () => {
      const answers = python<Verified>(checks.map((c) => ({ op: 'verify', token: c.token, jwk: c.jwk, algorithms: [c.alg] })));
      const disagreements = checks
        .map((c, i) => ({ c, a: answers[i]! }))
        .filter(({ c, a }) => a.ok !== c.valid)
        .map(({ c, a }) => `${c.what} of ${c.id}: vector says ${c.valid ? 'valid' : 'invalid'}, PyJWT ${a.ok ? 'accepted' : a.error}`);
      expect(disagreements).toEqual([]);
    });
  });

  describe('negative controls: tokens PyJWT makes that §5 refuses', () => {
    let tokens: Record<string, string>;
    const claims = () => ({ ip: CLIENT, iat: NOW, jti: jti(), htm: 'GET', htu: `${API}/orders` });
    const header = (kid: string) => ({ typ: 'ipstamp+jwt', kid });
    beforeAll(() => {
      const es = keys.ES256!;
      const hs = keys.HS256!;
      const names = ['hs384 over the HS256 key', 'EdDSA under the ES256 kid', 'another ES256 key', 'another EdDSA key', 'alg none'];
      const answers = python<{ token: string }>([
        { op: 'sign', jwk: hs.privateJwk, alg: 'HS384', header: header(hs.kid), claims: claims() },
        { op: 'sign', jwk: otherEd.privateJwk, alg: 'EdDSA', header: header(es.kid), claims: claims() },
        { op: 'sign', jwk: otherEs.privateJwk, alg: 'ES256', header: header(es.kid), claims: claims() },
        { op: 'sign', jwk: otherEd.privateJwk, alg: 'EdDSA', header: header(keys.EdDSA!.kid), claims: claims() },
        { op: 'sign', jwk: null, alg: null, header: header(hs.kid), claims: claims() },
      ]);
      tokens = Object.fromEntries(names.map((n, i) => [n, answers[i]!.token]));
    });

    for (const pipeline of PIPELINES) {
      it(`${pipeline}: an alg other than the key's pinned one and another key are bad-signature (step 5); alg none is bad-header (step 3)`, async () => {
        expect(decodeSegment(tokens['alg none']!, 0)).toEqual({ alg: 'none', typ: 'ipstamp+jwt', kid: keys.HS256!.kid });
        expect(tokens['alg none']!.endsWith('.')).toBe(true);
        const got: Record<string, string> = {};
        for (const [name, stamp] of Object.entries(tokens)) got[name] = outcome(await verifyWith(pipeline, jwks(), { stamp }));
        expect(got).toEqual({
          'hs384 over the HS256 key': 'bad-signature',
          'EdDSA under the ES256 kid': 'bad-signature',
          'another ES256 key': 'bad-signature',
          'another EdDSA key': 'bad-signature',
          'alg none': 'bad-header',
        });
      });
    }
  });
});
