/**
 * What a hand-written verifier does at the least — split, decode, check the signature, parse the
 * claims — with node:crypto and nothing of ipstamp's. The core bench races ipstamp's verifier
 * against it; the HTTP bench prices ES256's limit with it inside the bare server, in the same
 * round as the servers it compares (bench/README.md, "Fifteenth pass").
 */
import { createHmac, createPublicKey, createSecretKey, timingSafeEqual, verify } from 'node:crypto';
import { stampSigner } from './sign-stamp.js';

/** `(token) => claims`, throwing on a bad signature. */
export function rawPipeline(alg, publicJwk) {
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

/**
 * Runs before a timer answers: in a fresh process the first 2,000 ES256 runs cost 70–77 µs
 * each and those after 2,400 cost 57–65 (processes pinned to either core, 2026-12-06), as the
 * JavaScript around the verify, Node's and the pipeline's, is optimized. A server has long
 * passed that point by its measured windows, so the limit is priced past it too.
 */
const WARM_UP_RUNS = 3_000;

/**
 * A timer of the raw pipeline in this process: `measure(count)` runs it `count` times over a few
 * signed stamps and answers its CPU µs per run. Made once (keys imported, stamps signed, the
 * warm-up run), run between a server's windows, on the server's own core.
 */
export function rawPipelineTimer(alg, privateJwk, publicJwk) {
  const run = rawPipeline(alg, publicJwk);
  const sign = stampSigner(privateJwk);
  const iat = Math.floor(Date.now() / 1000);
  const tokens = Array.from({ length: 16 }, (_, i) =>
    sign({ ip: '192.0.2.7', iat, jti: `raw-${i.toString().padStart(18, '0')}`, htm: 'GET', htu: 'http://api.example.com/orders' }),
  );
  for (let i = 0; i < WARM_UP_RUNS; i++) run(tokens[i & 15]);
  return (count) => {
    const started = process.cpuUsage();
    for (let i = 0; i < count; i++) run(tokens[i & 15]);
    const used = process.cpuUsage(started);
    return (used.user + used.system) / count;
  };
}
