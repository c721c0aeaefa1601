/**
 * Verifier core vs the raw node:crypto pipeline (split, decode, verify, parse) on the same
 * tokens, and vs jose's jwtVerify with equivalent options. One core, no HTTP.
 *   node bench/core.js [--quick]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, generateSecret, jwtVerify, importJWK } from 'jose';
import { createVerifierCore } from '../dist/server/verify/create-verifier.js';
import { MemoryReplayStore } from '../dist/server/stores/memory.js';
import { rawPipeline } from './raw-pipeline.js';
import { stampSigner } from './sign-stamp.js';
import { compareOpsByRound, fmt, median, medianRatio } from './measure.js';

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
  const signStamp = stampSigner(privateJwk, 'bench');
  const iat = Math.floor(Date.now() / 1000);
  const tokens = [];
  for (let i = 0; i < count; i++) {
    const claims = { ip: '192.0.2.7', iat, jti: `bench-${i.toString().padStart(18, '0')}`, htm: 'GET', htu: 'http://api.example.com/orders' };
    // flat, as a header value from the HTTP parser is (a template literal makes a rope, which
    // the first variant to read it would pay to flatten)
    tokens.push(Buffer.from(signStamp(claims)).toString('latin1'));
  }
  return tokens;
}

export async function measureCore({ quick = false } = {}) {
  // many alternating rounds, CPU time, the ratio taken per round: on a shared 2-core
  // machine a round can be slowed by a neighbour, and then both of its variants are. A round
  // lasts ~150 ms: a 40 ms round of the raw pipeline, started on an empty young generation,
  // can run without a single scavenge and measure 15% faster than it runs in steady state.
  const rounds = quick ? 7 : 15;
  const out = {};
  for (const alg of ALGS) {
    const count = alg === 'HS256' ? 30_000 : quick ? 1_000 : 2_100;
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
    // One verifier for the whole run, as a server keeps one (a verifier made per round would
    // be measured half cold, its closures not yet optimized); the tokens are reused each round,
    // so its store starts empty each round — through a forwarding store, whose call is charged.
    const store = { current: new MemoryReplayStore(), insertIfAbsent: (key, ttlMs) => store.current.insertIfAbsent(key, ttlMs) };
    const verifier = createVerifierCore({ keys: { keys: [publicJwk] }, replayStore: store, maxAge: 600 });
    const byRound = await compareOpsByRound(
      {
        raw: () => (i) => raw(tokens[i]),
        ipstamp: () => {
          store.current = new MemoryReplayStore();
          return async (i) => {
            const r = await verifier.verify(inputs[i]);
            if (!r.ok) throw new Error(`rejected: ${r.reason}`);
          };
        },
      },
      { count, rounds, clock: 'cpu' },
    );
    // jose alternates with raw on its own, after: the garbage of its promise-heavy path would
    // otherwise land in the rounds of whichever variant follows it
    const joseRounds = await compareOpsByRound(
      {
        raw: () => (i) => raw(tokens[i]),
        jose: () => (i) => jwtVerify(tokens[i], joseKey, { algorithms: [alg], typ: 'ipstamp+jwt', maxTokenAge: 600, clockTolerance: 5 }),
      },
      { count: Math.min(count, 1_000), rounds: quick ? 3 : 5, clock: 'cpu' },
    );
    byRound.jose = joseRounds.jose;
    const ops = Object.fromEntries(Object.entries(byRound).map(([k, v]) => [k, median(v)]));
    out[alg] = { ...ops, ratioVsRaw: medianRatio(byRound.ipstamp, byRound.raw), ratioJoseVsRaw: medianRatio(joseRounds.jose, joseRounds.raw) };
  }
  return out;
}

/**
 * The core figures as the median of `processes` separate runs (one child process each): the
 * JIT can settle a pipeline into a faster or slower shape for a whole process (the raw one,
 * here, now and then runs 15% faster from start to end), which no number of rounds inside
 * one process averages out. Per alg, the run with the median ratio is kept whole.
 */
export async function measureCoreInProcesses({ quick = false, processes = 3 } = {}) {
  const runs = [];
  for (let i = 0; i < processes; i++) {
    const child = fork(fileURLToPath(import.meta.url), ['--json', ...(quick ? ['--quick'] : [])], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      execArgv: ['--expose-gc'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const [code] = await once(child, 'exit');
    if (code !== 0) throw new Error(`core bench process exited with ${code}`);
    runs.push(JSON.parse(out));
  }
  const result = {};
  for (const alg of ALGS) {
    const sorted = runs.map((r) => r[alg]).sort((a, b) => a.ratioVsRaw - b.ratioVsRaw);
    result[alg] = { ...sorted[sorted.length >> 1], ratioVsRawPerProcess: sorted.map((r) => r.ratioVsRaw) };
  }
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureCore({ quick: process.argv.includes('--quick') });
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result));
    process.exit(0);
  }
  console.log('verifications per CPU-second, one core (medians of alternating rounds; ratios per round)');
  console.log('alg     raw node:crypto   ipstamp core   jose jwtVerify   ipstamp/raw   jose/raw');
  for (const [alg, r] of Object.entries(result)) {
    console.log(
      `${alg.padEnd(7)} ${fmt(r.raw).padStart(15)} ${fmt(r.ipstamp).padStart(14)} ${fmt(r.jose).padStart(16)} ${fmt(r.ratioVsRaw, 2).padStart(13)} ${fmt(r.ratioJoseVsRaw, 2).padStart(10)}`,
    );
  }
}
