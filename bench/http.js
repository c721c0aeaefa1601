/**
 * HTTP cost of ipstamp, measured honestly on 2 cores: the server is pinned to core 0 and the
 * load (autocannon, in this process) to core 1, and the figure that counts is the server's
 * own CPU time per answered request — the load generator saturates before the server does.
 * Variants alternate round by round so drift hits all of them; medians of the rounds.
 */
import { fork, execFileSync } from 'node:child_process';
import { createHmac, createPrivateKey, sign } from 'node:crypto';
import { once } from 'node:events';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import autocannon from 'autocannon';
import { median } from './measure.js';

function pin(pid, core) {
  try {
    execFileSync('taskset', ['-cp', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // no taskset: figures are still CPU per request, only noisier
  }
}

async function makeKeys() {
  const hs = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' };
  const out = { hs256: hs, private: { hs256: hs } };
  for (const [name, alg] of [['es256', 'ES256'], ['eddsa', 'EdDSA']]) {
    const pair = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
    out[name] = { ...(await exportJWK(pair.publicKey)), kid: `bench-${name}`, alg };
    out.private[name] = { ...(await exportJWK(pair.privateKey)), kid: `bench-${name}`, alg };
  }
  return out;
}

/** Fresh, distinct stamps for one run (each is good once). */
function makeStamps(jwk, port, count) {
  const { alg, kid } = jwk;
  const header = Buffer.from(JSON.stringify({ alg, typ: 'ipstamp+jwt', kid })).toString('base64url');
  const key = alg === 'HS256' ? Buffer.from(jwk.k, 'base64url') : createPrivateKey({ key: jwk, format: 'jwk' });
  const iat = Math.floor(Date.now() / 1000);
  const htu = `http://127.0.0.1:${port}/orders`;
  const out = new Array(count);
  const salt = Math.random().toString(36).slice(2, 10);
  for (let i = 0; i < count; i++) {
    const claims = { ip: '127.0.0.1', iat, jti: `${salt}-${i.toString().padStart(16, '0')}`, htm: 'GET', htu };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const sig =
      alg === 'HS256'
        ? createHmac('sha256', key).update(input).digest()
        : alg === 'ES256'
          ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
          : sign(null, Buffer.from(input), key);
    out[i] = `${input}.${sig.toString('base64url')}`;
  }
  return out;
}

async function startServer(variant, keys, redisUrl) {
  const child = fork(new URL('./http-server.js', import.meta.url), [variant, JSON.stringify(keys), redisUrl ?? ''], { stdio: 'inherit' });
  const [{ port }] = await once(child, 'message');
  pin(child.pid, 0);
  const ask = async (message) => {
    child.send(message);
    const [reply] = await once(child, 'message');
    return reply;
  };
  return { port, ask, stop: () => (child.send('exit'), once(child, 'exit')) };
}

async function load({ port, stamps, duration, overallRate, connections = 10 }) {
  let i = 0;
  const options = {
    url: `http://127.0.0.1:${port}/orders`,
    connections,
    duration,
    requests: stamps ? [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'client-ip-attestation': stamps[i++ % stamps.length] } }) }] : undefined,
  };
  if (overallRate) options.overallRate = overallRate;
  const result = await autocannon(options);
  return { ok: result['2xx'], errors: result.non2xx + result.errors + result.timeouts, rps: result.requests.average, p99: result.latency.p99 };
}

const STAMPED = { 'ipstamp-hs256-memory': 'hs256', 'ipstamp-es256-memory': 'es256', 'ipstamp-hs256-redis': 'hs256', 'naive-jose-hs256': 'hs256' };

/** One window: server CPU per answered request (µs), req/s, p99; and p99 at a fixed rate. */
async function measureVariant(variant, keys, { duration, rate, redisUrl }) {
  const server = await startServer(variant, keys, redisUrl);
  try {
    const alg = STAMPED[variant];
    const expectRps = alg === 'es256' ? 12_000 : 40_000;
    const stampsFor = (seconds, rps) => (alg ? makeStamps(keys.private[alg], server.port, Math.ceil(seconds * rps * 1.3) + 1000) : undefined);
    await load({ port: server.port, stamps: stampsFor(1, expectRps), duration: 1 }); // warm-up
    const stamps = stampsFor(duration, expectRps);
    await server.ask('cpu-start');
    const run = await load({ port: server.port, stamps, duration });
    const { cpuMicros } = await server.ask('cpu-stop');
    const fixed = await load({ port: server.port, stamps: stampsFor(duration, rate), duration, overallRate: rate });
    if (run.errors > 0 || fixed.errors > 0) throw new Error(`${variant}: ${run.errors + fixed.errors} failed requests`);
    return { cpuPerRequestUs: cpuMicros / run.ok, rps: run.rps, p99: run.p99, p99AtRate: fixed.p99 };
  } finally {
    await server.stop();
  }
}

export async function measureHttp({ quick = false, redisUrl } = {}) {
  pin(process.pid, 1);
  const keys = await makeKeys();
  const variants = ['bare', 'trust-proxy', 'ipstamp-hs256-memory', 'ipstamp-es256-memory', 'naive-jose-hs256'];
  if (redisUrl) variants.push('ipstamp-hs256-redis');
  const rounds = 3;
  const settings = { duration: quick ? 1 : 4, rate: 5_000, redisUrl };
  const samples = Object.fromEntries(variants.map((v) => [v, []]));
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) samples[v].push(await measureVariant(v, keys, settings));
  }
  const out = {};
  for (const v of variants) {
    const s = samples[v];
    out[v] = {
      cpuPerRequestUs: median(s.map((x) => x.cpuPerRequestUs)),
      rps: median(s.map((x) => x.rps)),
      p99Ms: median(s.map((x) => x.p99)),
      p99MsAt5k: median(s.map((x) => x.p99AtRate)),
    };
  }
  for (const v of variants) out[v].bareOverVariant = out.bare.cpuPerRequestUs / out[v].cpuPerRequestUs;
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureHttp({ quick: process.argv.includes('--quick'), redisUrl: process.env.IPSTAMP_BENCH_REDIS });
  console.table(result);
}
