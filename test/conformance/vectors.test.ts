import { createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../shared/reasons.js';
import { ipstampCoreAdapter } from './ipstamp-adapter.js';
import { webVerifierAdapter } from './web-adapter.js';
import { assertConforms } from './assert-conforms.js';
import type { ConformanceAdapter, ConformanceVector, ExpectedTicket, TicketRequestRun, VectorFile } from './vector-format.js';

/**
 * Runs every conformance vector (docs/protocol.md, test/conformance/README.md) against each
 * adapter. A second implementation (`ipstamp/web`, another language through a subprocess)
 * joins by adding its adapter here.
 */
const ADAPTERS: readonly ConformanceAdapter[] = [ipstampCoreAdapter, webVerifierAdapter];

const VECTOR_DIR = join(dirname(fileURLToPath(import.meta.url)), 'vectors');
const files: { name: string; file: VectorFile }[] = readdirSync(VECTOR_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => ({ name, file: JSON.parse(readFileSync(join(VECTOR_DIR, name), 'utf8')) as VectorFile }));

/** Checks an issued ticket against what §7.1–7.2 require of it, signature included. */
function assertTicketConforms(vector: ConformanceVector, want: ExpectedTicket, run: TicketRequestRun): void {
  const { outcome } = run;
  expect(outcome.ok ? 'issued' : `refused ${outcome.reason}`).toBe('issued');
  if (!outcome.ok) return;
  const { ticket } = outcome;
  expect(ticket.length).toBeLessThanOrEqual(2048);
  const [h, c, sig] = ticket.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
  expect(header).toEqual({ alg: want.alg, typ: 'ipstamp-ticket+jwt', kid: want.kid });
  expect({ iss: claims.iss, ip: claims.ip, cnf: claims.cnf }).toEqual({ iss: want.iss, ip: want.ip, cnf: want.cnf });
  const iat = claims.iat as number;
  expect(Number.isInteger(iat) && iat <= want.iat && iat >= want.iat - 1, `iat ${iat}`).toBe(true);
  expect(claims.exp).toBe(iat + (want.exp - want.iat));
  expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22,64}$/);
  expect({ ip: outcome.ip, exp: outcome.exp }).toEqual({ ip: claims.ip, exp: claims.exp });
  // signed with the issuer's key (EdDSA or ES256, r‖s)
  const { d: _private, ...publicJwk } = vector.issuer!.key;
  const key = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const input = Buffer.from(`${h}.${c}`);
  const signature = Buffer.from(sig, 'base64url');
  const valid =
    want.alg === 'ES256' ? verifySignature('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature) : verifySignature(null, input, key, signature);
  expect(valid, 'ticket signature').toBe(true);
}

describe('conformance vectors: the files themselves', () => {
  const all = files.flatMap(({ file }) => file.vectors);

  it('are present, for protocol 1.2, with unique ids', () => {
    expect(files.map((f) => f.name)).toEqual(['hints.json', 'stamps.json', 'ticket-requests.json', 'tickets.json']);
    for (const { file } of files) expect(file.protocol).toBe('1.2');
    expect(new Set(all.map((v) => v.id)).size).toBe(all.length);
  });

  it('expect every reason code of the spec somewhere, each with its status', () => {
    const status: Record<string, number> = {};
    for (const v of all) if (!v.expect.ok) status[v.expect.reason] = v.expect.status;
    expect(Object.keys(status).sort()).toEqual([...REASONS].sort());
  });

  it('cover every step of §5, 12′ and the store row', () => {
    const specs = all.map((v) => v.spec).join(' | ');
    for (let step = 1; step <= 12; step++) expect(specs, `§5 step ${step}`).toMatch(new RegExp(`§5 steps? [^|]*\\b${step}\\b`));
    expect(specs).toContain('step 12′');
    expect(specs).toContain('§5 store row');
  });
});

for (const adapter of ADAPTERS) {
  describe(`conformance: ${adapter.name}`, () => {
    for (const { name, file } of files) {
      // an implementation without an issuer (ipstamp/web) has no ticket-request vectors to run
      if (file.kind === 'ticket-request' && adapter.issue === undefined) continue;
      describe(`${name} — ${file.title}`, () => {
        for (const vector of file.vectors) {
          if (file.kind === 'ticket-request') {
            const { issue } = adapter;
            if (issue === undefined) continue;
            it(vector.id, async () => {
              const run = await issue.call(adapter, vector);
              if ('ticket' in vector.expect) assertTicketConforms(vector, vector.expect.ticket, run);
              else if (!vector.expect.ok)
                expect(run.outcome.ok ? 'issued' : { reason: run.outcome.reason, status: run.outcome.status }).toEqual({
                  reason: vector.expect.reason,
                  status: vector.expect.status,
                });
              else throw new Error(`${vector.id}: a ticket request expects a ticket or a refusal`);
            });
            continue;
          }
          it(vector.id, async () => {
            assertConforms(vector, await adapter.run(vector, vector.keys ?? file.keys));
          });
        }
      });
    }
  });
}

describe('conformance: how the ipstamp/web adapter was fed (runs after the vectors above)', () => {
  it('most verify vectors went in as a web Request, the rest as plain data, none skipped', () => {
    const verifyVectors = files.filter(({ file }) => file.kind === 'verify').reduce((n, { file }) => n + file.vectors.length, 0);
    const { request, plain } = webVerifierAdapter.counts;
    expect(request + plain).toBe(verifyVectors);
    expect(request).toBeGreaterThan(plain);
  });
});
