/**
 * Where a bench server spends its CPU: starts one server of bench/http.js (or of
 * bench/frameworks.js) under `node --cpu-prof`, loads it with bench/load.js the same way the
 * bench does, and prints the functions with the most self time, and the same grouped by file.
 *
 *   npm run build && node bench/profile.js ipstamp-hs256-memory [seconds] [--out dir]
 *   node bench/profile.js express:express-ipstamp-hs256-memory
 */
import { fork, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { blast, buildRequests } from './load.js';
import { stampSigner } from './sign-stamp.js';

const [spec = 'ipstamp-hs256-memory', secondsArg = '5'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const outAt = process.argv.indexOf('--out');
const dir = outAt > 0 ? process.argv[outAt + 1] : mkdtempSync(join(tmpdir(), 'ipstamp-prof-'));
const [framework, variant] = spec.includes(':') ? spec.split(':') : ['http', spec];
const seconds = Number(secondsArg);

const hs = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' };
const pair = await generateKeyPair('ES256', { extractable: true });
const es = { ...(await exportJWK(pair.publicKey)), kid: 'bench-es256', alg: 'ES256' };
const esPrivate = { ...(await exportJWK(pair.privateKey)), kid: 'bench-es256', alg: 'ES256' };
const keys = { hs256: hs, es256: es, eddsa: es, private: { hs256: hs, es256: esPrivate } };

const script = framework === 'http' ? './http-server.js' : `./${framework}-server.js`;
const child = fork(new URL(script, import.meta.url), [variant, JSON.stringify(keys), process.env.IPSTAMP_BENCH_REDIS ?? ''], {
  stdio: 'inherit',
  execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200'],
});
const [{ port }] = await once(child, 'message');
try {
  execFileSync('taskset', ['-cp', '0', String(child.pid)], { stdio: 'ignore' });
  execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
} catch {
  // no taskset
}
const alg = variant.includes('es256') ? 'es256' : 'hs256';
const signed = variant.includes('ipstamp') || variant.includes('jose') || variant.includes('floor') || variant === 'bare-stamped';
const sign = signed ? stampSigner(keys.private[alg]) : undefined;
const salt = Math.random().toString(36).slice(2, 10);
let serial = 0;
const headersOf = sign
  ? () => ({
      'client-ip-attestation': sign({
        ip: '127.0.0.1',
        iat: Math.floor(Date.now() / 1000),
        jti: `${salt}-${(serial++).toString().padStart(16, '0')}`,
        htm: 'GET',
        htu: `http://127.0.0.1:${port}/orders`,
      }),
    })
  : undefined;
let total = 0;
let cpu = 0;
for (let s = 0; s < seconds; s++) {
  const requests = buildRequests({ host: `127.0.0.1:${port}`, path: '/orders', count: alg === 'es256' ? 15_000 : 90_000, headersOf });
  child.send('cpu-start');
  await once(child, 'message');
  const run = await blast({ port, requests, duration: 1 });
  child.send('cpu-stop');
  const [{ cpuMicros }] = await once(child, 'message');
  if (run.errors) throw new Error(`${run.errors} failed requests`);
  total += run.ok;
  cpu += cpuMicros;
}
console.log(`${spec}: ${total} requests, ${(cpu / total).toFixed(2)} µs server CPU/request`);
child.send('exit');
await once(child, 'exit');

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
// self time per node in µs: each sample's time delta belongs to that sample
const selfTicks = new Map();
profile.samples.forEach((id, i) => selfTicks.set(id, (selfTicks.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byFunction = new Map();
const byFile = new Map();
for (const [id, ticks] of selfTicks) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url ? callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^node:/, 'node:') : '';
  const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + ticks);
  const group = where.replace(/:\d+$/, '') || callFrame.functionName;
  byFile.set(group, (byFile.get(group) ?? 0) + ticks);
}
// µs of self time per answered request (the profile also covers start-up and the idle
// time between windows, which show up as module loading and "(idle)")
const top = (map, n) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${(v / total).toFixed(3).padStart(7)} µs  ${k}`)
    .join('\n');
const busy = [...byFile].filter(([k]) => k !== '(idle)').reduce((sum, [, v]) => sum + v, 0);
console.log(`\nself time by function (${(busy / total).toFixed(2)} µs/request not idle):\n${top(byFunction, 50)}`);
console.log(`\nself time by file:\n${top(byFile, 30)}`);
console.log(`\nprofile: ${join(dir, file)}`);
