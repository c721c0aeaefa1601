/**
 * Verifier core vs the raw node:crypto pipeline (split, decode, verify, parse) on the same
 * tokens, and vs jose's jwtVerify with equivalent options. One core, no HTTP.
 *   node bench/core.js [--quick]
 */
import { createHmac, createPrivateKey, createPublicKey, createSecretKey, sign, timingSafeEqual, verify } from 'node:crypto';
import { exportJWK, generateKeyPair, generateSecret, jwtVerify, importJWK } from 'jose';
import { createVerifierCore } from '../dist/server/verify/verifier.js';
import { MemoryReplayStore } from '../dist/server/stores/memory.js';
import { compareOps, fmt } from './measure.js';

const ALGS = ['HS256', 'ES256', 'EdDSA'];

async function keyPair(alg) {
  if (alg === 'HS256') {
    const jwk = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench', alg };
    return { privateJwk: jwk, publicJwk: jwk };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid: 'bench', alg },
    publicJwk: { ...(await exportJWK(publicKey)), kid: 'bench', alg },
  };
}

function makeTokens(alg, privateJwk, count) {
  const header = Buffer.from(JSON.stringify({ alg, typ: 'ipstamp+jwt', kid: 'bench' })).toString('base64url');
  const key = alg === 'HS256' ? Buffer.from(privateJwk.k, 'base64url') : createPrivateKey({ key: privateJwk, format: 'jwk' });
  const iat = Math.floor(Date.now() / 1000);
  const tokens = [];
  for (let i = 0; i < count; i++) {
    const claims = { ip: '192.0.2.7', iat, jti: `bench-${i.toString().padStart(18, '0')}`, htm: 'GET', htu: 'http://api.example.com/orders' };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const sig =
      alg === 'HS256'
        ? createHmac('sha256', key).update(input).digest()
        : alg === 'ES256'
          ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
          : sign(null, Buffer.from(input), key);
    tokens.push(`${input}.${sig.toString('base64url')}`);
  }
  return tokens;
}

/** What a hand-written verifier does at the least: split, decode, check the signature, parse the claims. */
function rawPipeline(alg, publicJwk) {
  const key = alg === 'HS256' ? createSecretKey(Buffer.from(publicJwk.k, 'base64url')) : createPublicKey({ key: publicJwk, format: 'jwk' });
  return (token) => {
    const a = token.indexOf('.');
    const b = token.indexOf('.', a + 1);
    JSON.parse(Buffer.from(token.slice(0, a), 'base64url').toString());
    const signingInput = token.slice(0, b);
    const sig = Buffer.from(token.slice(b + 1), 'base64url');
    let ok;
    if (alg === 'HS256') {
      const mac = createHmac('sha256', key).update(signingInput).digest();
      ok = mac.length === sig.length && timingSafeEqual(mac, sig);
    } else {
      ok = verify(alg === 'ES256' ? 'sha256' : null, Buffer.from(signingInput), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, sig);
    }
    if (!ok) throw new Error('bad signature');
    return JSON.parse(Buffer.from(token.slice(a + 1, b), 'base64url').toString());
  };
}

export async function measureCore({ quick = false } = {}) {
  const count = quick ? 5_000 : 20_000;
  const rounds = quick ? 3 : 5;
  const out = {};
  for (const alg of ALGS) {
    const { privateJwk, publicJwk } = await keyPair(alg);
    const tokens = makeTokens(alg, privateJwk, count);
    const inputs = tokens.map((t) => ({
      method: 'GET',
      url: '/orders',
      headers: { host: 'api.example.com', 'client-ip-attestation': t },
      hints: { l3: '192.0.2.7' },
    }));
    const raw = rawPipeline(alg, publicJwk);
    const joseKey = await importJWK(publicJwk, alg);
    const ops = await compareOps(
      {
        raw: () => (i) => raw(tokens[i]),
        // a fresh store each round: the same jtis must be fresh again
        ipstamp: () => {
          const v = createVerifierCore({ keys: { keys: [publicJwk] }, replayStore: new MemoryReplayStore(), maxAge: 600 });
          return async (i) => {
            const r = await v.verify(inputs[i]);
            if (!r.ok) throw new Error(`rejected: ${r.reason}`);
          };
        },
        jose: () => (i) => jwtVerify(tokens[i], joseKey, { algorithms: [alg], typ: 'ipstamp+jwt', maxTokenAge: 600, clockTolerance: 5 }),
      },
      { count, rounds },
    );
    out[alg] = { ...ops, ratioVsRaw: ops.ipstamp / ops.raw, ratioJoseVsRaw: ops.jose / ops.raw };
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureCore({ quick: process.argv.includes('--quick') });
  console.log('verifications/s, one core (median of alternating rounds)');
  console.log('alg     raw node:crypto   ipstamp core   jose jwtVerify   ipstamp/raw   jose/raw');
  for (const [alg, r] of Object.entries(result)) {
    console.log(
      `${alg.padEnd(7)} ${fmt(r.raw).padStart(15)} ${fmt(r.ipstamp).padStart(14)} ${fmt(r.jose).padStart(16)} ${fmt(r.ratioVsRaw, 2).padStart(13)} ${fmt(r.ratioJoseVsRaw, 2).padStart(10)}`,
    );
  }
}
