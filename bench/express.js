/**
 * Express 5 rows: server CPU per answered request with ipstamp/node (HS256, memory store)
 * against Express 5 bare, same run — the method of bench/http.js (servers pinned to core 0,
 * load from core 1, alternating short windows, the median per-round ratio over fresh
 * processes). Prints `ratios.express_hs256_memory_vs_bare`.
 *
 *   npm run build && node bench/express.js [--quick]
 */
import { fork, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { exportJWK, generateSecret } from 'jose';
import { blast, buildRequests } from './load.js';
import { median } from './measure.js';
import { stampSigner } from './sign-stamp.js';

function pin(pid, core) {
  try {
    execFileSync('taskset', ['-cp', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // no taskset: figures are still CPU per request, only noisier
  }
}

async function startServer(variant, keys) {
  const child = fork(new URL('./express-server.js', import.meta.url), [variant, JSON.stringify(keys)], { stdio: 'inherit' });
  const [{ port }] = await once(child, 'message');
  pin(child.pid, 0);
  const ask = async (message) => {
    child.send(message);
    const [reply] = await once(child, 'message');
    return reply;
  };
  return { port, ask, stop: () => (child.send('exit'), once(child, 'exit')) };
}

/** Fresh, distinct stamps for one server (each is good once). */
function stampMaker(jwk, port) {
  const signStamp = stampSigner(jwk);
  const htu = `http://127.0.0.1:${port}/orders`;
  const salt = Math.random().toString(36).slice(2, 10);
  let serial = 0;
  return () => signStamp({ ip: '127.0.0.1', iat: Math.floor(Date.now() / 1000), jti: `${salt}-${(serial++).toString().padStart(16, '0')}`, htm: 'GET', htu });
}

function target(variant, server, key) {
  const nextStamp = variant === 'express-bare' ? undefined : stampMaker(key, server.port);
  const requests = (count) =>
    buildRequests({
      host: `127.0.0.1:${server.port}`,
      path: '/orders',
      count,
      headersOf: nextStamp ? () => ({ 'client-ip-attestation': nextStamp() }) : undefined,
    });
  return { variant, server, requests, expectRps: 20_000 };
}

async function window(t, seconds) {
  const requests = t.requests(Math.ceil(t.expectRps * seconds * 1.5) + 500);
  await t.server.ask('cpu-start');
  const run = await blast({ port: t.server.port, requests, duration: seconds });
  const { cpuMicros } = await t.server.ask('cpu-stop');
  if (run.errors > 0) throw new Error(`${t.variant}: ${run.errors} failed requests`);
  t.expectRps = Math.max(1_000, run.rps);
  return { cpuPerRequestUs: cpuMicros / run.ok, rps: run.rps };
}

export async function measureExpress({ quick = false } = {}) {
  pin(process.pid, 1);
  const hs256 = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' };
  const variants = ['express-bare', 'express-ipstamp-hs256-memory'];
  const generations = quick ? 1 : 4;
  const rounds = quick ? 5 : 3;
  const seconds = quick ? 0.4 : 2;
  const samples = new Map(variants.map((v) => [v, []]));
  for (let g = 0; g < generations; g++) {
    const servers = await Promise.all(variants.map((v) => startServer(v, { hs256 })));
    const targets = variants.map((v, i) => target(v, servers[i], hs256));
    try {
      for (const t of targets) for (let w = 0; w < 3; w++) await window(t, 0.4); // warm-up (JIT, pools)
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(k + r + g) % targets.length];
          samples.get(t.variant).push(await window(t, seconds));
        }
      }
    } finally {
      await Promise.all(targets.map((t) => t.server.stop()));
    }
  }
  const bare = samples.get('express-bare');
  const rows = {};
  for (const v of variants) {
    const s = samples.get(v);
    rows[v] = {
      cpuPerRequestUs: median(s.map((x) => x.cpuPerRequestUs)),
      rps: median(s.map((x) => x.rps)),
      bareOverVariant: median(s.map((x, i) => bare[i].cpuPerRequestUs / x.cpuPerRequestUs)),
      rounds: s.length,
    };
  }
  return { rows, ratios: { express_hs256_memory_vs_bare: rows['express-ipstamp-hs256-memory'].bareOverVariant } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows, ratios } = await measureExpress({ quick: process.argv.includes('--quick') });
  console.table(rows);
  console.log(JSON.stringify({ ratios }));
}
