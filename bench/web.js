/**
 * ipstamp/web against ipstamp/server on Node: the verify rate of `createWebVerifier` (WebCrypto,
 * the pure-JavaScript CIDR list) over that of `createVerifier`'s core (node:crypto KeyObjects,
 * BlockList) — same run, same inputs (plain `VerifyInput`s through `verifyInput`), alternating
 * rounds, CPU time, the ratio the median over rounds (bench/measure.js). Also the web verifier
 * fed a web `Request` (`verify(request, connection)`), as a Worker calls it, for HS256.
 *
 *   npm run build && node --expose-gc bench/web.js [--quick] [--json]
 *
 * Prints `ratios.web_hs256_vs_node` and `ratios.web_es256_vs_node` (and the ops/s behind them).
 */
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { createVerifierCore } from '../dist/server/verify/create-verifier.js';
import { MemoryReplayStore } from '../dist/server/stores/memory.js';
import { createWebVerifier } from '../dist/server/web/index.js';
import { compareOpsByRound, fmt, median, medianRatio } from './measure.js';
import { stampSigner } from './sign-stamp.js';

const ALGS = ['HS256', 'ES256'];

async function keyPair(alg) {
  if (alg === 'HS256') {
    const jwk = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench', alg };
    return { privateJwk: jwk, publicJwk: jwk };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateJwk: { ...(await exportJWK(privateKey)), kid: 'bench', alg }, publicJwk: { ...(await exportJWK(publicKey)), kid: 'bench', alg } };
}

/** A store each verifier keeps for the whole run, emptied before each of its rounds (the tokens are reused). */
function resettableStore() {
  const store = { current: new MemoryReplayStore(), insertIfAbsent: (key, ttlMs) => store.current.insertIfAbsent(key, ttlMs) };
  return store;
}

export async function measureWeb({ quick = false } = {}) {
  const rounds = quick ? 5 : 11;
  const out = {};
  for (const alg of ALGS) {
    const count = alg === 'HS256' ? (quick ? 5_000 : 20_000) : quick ? 800 : 2_000;
    const { privateJwk, publicJwk } = await keyPair(alg);
    const sign = stampSigner(privateJwk, 'bench');
    const iat = Math.floor(Date.now() / 1000);
    const inputs = [];
    const requests = [];
    for (let i = 0; i < count; i++) {
      const claims = { ip: '192.0.2.7', iat, jti: `bench-${i.toString().padStart(18, '0')}`, htm: 'GET', htu: 'http://api.example.com/orders' };
      const token = Buffer.from(sign(claims)).toString('latin1');
      inputs.push({ method: 'GET', url: '/orders', headers: { host: 'api.example.com', 'client-ip-attestation': token }, hints: { l3: '192.0.2.7' } });
      if (alg === 'HS256') requests.push(new Request('http://api.example.com/orders', { headers: { 'client-ip-attestation': token } }));
    }
    const nodeStore = resettableStore();
    const webStore = resettableStore();
    const requestStore = resettableStore();
    const options = { keys: { keys: [publicJwk] }, maxAge: 600 };
    const node = createVerifierCore({ ...options, replayStore: nodeStore });
    const web = createWebVerifier({ ...options, replayStore: webStore });
    const webRequests = createWebVerifier({ ...options, replayStore: requestStore });
    const connection = { l3: '192.0.2.7' };
    const accepted = (r) => {
      if (!r.ok) throw new Error(`rejected: ${r.reason}`);
    };
    const variants = {
      node: () => {
        nodeStore.current = new MemoryReplayStore();
        return async (i) => accepted(await node.verify(inputs[i]));
      },
      web: () => {
        webStore.current = new MemoryReplayStore();
        return async (i) => accepted(await web.verifyInput(inputs[i]));
      },
    };
    if (alg === 'HS256') {
      variants.webRequest = () => {
        requestStore.current = new MemoryReplayStore();
        return async (i) => accepted(await webRequests.verify(requests[i], connection));
      };
    }
    const byRound = await compareOpsByRound(variants, { count, rounds, clock: 'cpu' });
    out[alg] = {
      ...Object.fromEntries(Object.entries(byRound).map(([k, v]) => [k, median(v)])),
      webVsNode: medianRatio(byRound.web, byRound.node),
      ...(byRound.webRequest ? { webRequestVsNode: medianRatio(byRound.webRequest, byRound.node) } : {}),
    };
  }
  return {
    web: out,
    ratios: {
      web_hs256_vs_node: out.HS256.webVsNode,
      web_es256_vs_node: out.ES256.webVsNode,
      web_request_hs256_vs_node: out.HS256.webRequestVsNode,
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const result = await measureWeb({ quick });
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const [alg, r] of Object.entries(result.web)) {
      const request = r.webRequest === undefined ? '' : `, web from a Request ${fmt(r.webRequest)}/s (${fmt(r.webRequestVsNode, 2)})`;
      console.log(`${alg}: node ${fmt(r.node)}/s, web ${fmt(r.web)}/s (${fmt(r.webVsNode, 2)})${request}`);
    }
    console.log(JSON.stringify({ ratios: result.ratios }, null, 2));
  }
}
