import { createHmac, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ATTACK_CATALOG, runAttacks, type Attack } from '../../server/attack/index.js';
import type { HttpAttackRequest } from '../../server/attack/catalog/types.js';
import { createAttackContext } from '../../server/attack/context.js';
import { loadAttackKey } from '../../server/attack/keys.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { STAMP_HEADER } from '../../shared/index.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { startVerifierServer } from './verifier-server.js';

/**
 * Each forgery carries the element it is named for. A strict verifier rejects a forgery that
 * lost it all the same (for another reason, or the same one), so its verdicts cannot show the
 * loss: the tokens are read back here instead, and the claim offsets are tried against the
 * most lenient verifier a deployment may configure.
 */

const attack = (name: string): Attack => {
  const found = ATTACK_CATALOG.find((a) => a.name === name);
  if (!found) throw new Error(`no attack ${name}`);
  return found;
};

async function contextFor(alg: 'ES256' | 'EdDSA') {
  const key = await makeKey(alg);
  return {
    key,
    ctx: createAttackContext({ target: new URL('http://127.0.0.1:9/orders'), ip: '127.0.0.1', key: loadAttackKey(key.privateJwk), raceCopies: 2 }),
  };
}

/** The stamp an attack sends, in its three parts (header and payload as JSON text). */
async function sentStamp(name: string, ctx: Awaited<ReturnType<typeof contextFor>>['ctx']) {
  const plan = (await attack(name).build(ctx)) as HttpAttackRequest;
  const token = String(plan.headers[STAMP_HEADER]);
  const [h, p, s] = token.split('.') as [string, string, string];
  return {
    signingInput: `${h}.${p}`,
    headerText: Buffer.from(h, 'base64url').toString(),
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    signature: Buffer.from(s, 'base64url'),
  };
}

describe('the forged element of each forgery', () => {
  it('alg-confusion: an HS256 header, HMAC-signed with the public key in the form the attack names (three different secrets)', async () => {
    const { ctx } = await contextFor('ES256');
    const forms = { jwk: ctx.publicKey!.jwkJson, pem: ctx.publicKey!.pem, raw: ctx.publicKey!.raw };
    const signatures = new Set<string>();
    for (const [form, secret] of Object.entries(forms)) {
      const stamp = await sentStamp(`alg-confusion-${form}`, ctx);
      expect(stamp.header.alg).toBe('HS256');
      expect(stamp.signature).toEqual(createHmac('sha256', secret).update(stamp.signingInput).digest());
      signatures.add(stamp.signature.toString('hex'));
    }
    expect(signatures.size).toBe(3);
  });

  it("header-jwk: signed by the embedded key's private half, not by the key the target trusts", async () => {
    const { ctx, key } = await contextFor('EdDSA');
    const stamp = await sentStamp('header-jwk', ctx);
    const embedded = createPublicKey({ key: stamp.header.jwk as never, format: 'jwk' });
    const trusted = createPublicKey({ key: key.publicJwk as never, format: 'jwk' });
    expect(verify(null, Buffer.from(stamp.signingInput), embedded, stamp.signature)).toBe(true);
    expect(verify(null, Buffer.from(stamp.signingInput), trusted, stamp.signature)).toBe(false);
  });

  it('header-duplicate-kid: a decoy kid and the real one, in the order each variant names', async () => {
    const { ctx } = await contextFor('ES256');
    const real = JSON.stringify(ctx.kid);
    const decoy = '"ipstamp-attack-decoy"';
    expect((await sentStamp('header-duplicate-kid-last', ctx)).headerText).toMatch(new RegExp(`"kid":${decoy},"kid":${real}}$`));
    expect((await sentStamp('header-duplicate-kid-first', ctx)).headerText).toMatch(new RegExp(`"kid":${real},"kid":${decoy}}$`));
  });

  it('alg-none: the named alg and an empty signature', async () => {
    const { ctx } = await contextFor('ES256');
    for (const variant of ['none', 'None', 'NONE', 'nOnE']) {
      const stamp = await sentStamp(`alg-none-${variant}`, ctx);
      expect(stamp.header.alg).toBe(variant);
      expect(stamp.signature).toHaveLength(0);
    }
  });

  it("payload-duplicate-ip: the foreign address and the caller's, in the order each variant names", async () => {
    const { ctx } = await contextFor('ES256');
    const [caller, foreign] = [JSON.stringify(ctx.ip), JSON.stringify(ctx.spoofedIp)];
    expect(caller).not.toBe(foreign);
    const payloadOf = async (name: string) => {
      const plan = (await attack(name).build(ctx)) as HttpAttackRequest;
      return Buffer.from(String(plan.headers[STAMP_HEADER]).split('.')[1]!, 'base64url').toString();
    };
    expect(await payloadOf('payload-duplicate-ip-last')).toMatch(new RegExp(`^\\{"ip":${foreign},.*,"ip":${caller}\\}$`));
    expect(await payloadOf('payload-duplicate-ip-first')).toMatch(new RegExp(`^\\{"ip":${caller},.*,"ip":${foreign}\\}$`));
  });

  it("binding-other-path: another path even when the route's path is the one it would pick", async () => {
    const key = await makeKey('ES256');
    for (const path of ['/orders', '/ipstamp-attack/other-path']) {
      const target = new URL(path, 'http://127.0.0.1:9');
      const ctx = createAttackContext({ target, ip: '127.0.0.1', key: loadAttackKey(key.privateJwk), raceCopies: 2 });
      const plan = (await attack('binding-other-path').build(ctx)) as HttpAttackRequest;
      const payload = JSON.parse(Buffer.from(String(plan.headers[STAMP_HEADER]).split('.')[1]!, 'base64url').toString()) as { htu: string };
      expect(plan.url).toBe(target.href);
      expect(new URL(payload.htu).pathname).not.toBe(path);
    }
  });
});

describe('claim offsets beyond any setting a verifier allows', () => {
  for (const lenient of [{ maxAge: 86_400 }, { skew: 86_400 }]) {
    it(`expired, iat-in-future and exp-beyond-max-age are rejected by a verifier with ${JSON.stringify(lenient)}`, async () => {
      const key = await makeKey('ES256');
      const server = await startVerifierServer({
        verify: createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore(), ...lenient }).verify,
        proxyPeers: [],
      });
      try {
        const report = await runAttacks({ target: server.url, key: key.privateJwk, only: ['control-get', 'expired', 'iat-in-future', 'exp-beyond-max-age'] });
        expect(report.results.map((r) => [r.name, r.verdict])).toEqual([
          ['control-get', 'pass'],
          ['expired', 'pass'],
          ['iat-in-future', 'pass'],
          ['exp-beyond-max-age', 'pass'],
        ]);
      } finally {
        await server.close();
      }
    });
  }
});
