import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import type { Agent } from 'undici';
import { ATTACK_CATALOG, createTextReport, runAttacks, type AttackReport } from '../../attack/index.js';
import { startDemoVerifier, type DemoVerifier } from '../../demo/demo-verifier.js';
import { clientAgent, forgedTraffic, legitimateTraffic, type TrafficRow } from '../../demo/demo-traffic.js';
import { startProxyForwarder, type ProxyForwarder } from '../../demo/proxy-forwarder.js';
import { formatTable } from '../../demo/table.js';
import { parseFlags } from '../parse-flags.js';

export const usage = `Usage: ipstamp demo

Runs the whole story in one process, on loopback, in a few seconds: a verifier (Fastify +
the ipstamp plugin) behind a load balancer that speaks the PROXY protocol v2; stamped
traffic from two clients (127.0.0.5, 127.0.0.6) accepted with agreement "match"; forged
traffic rejected with its reason; then the attack catalog (ipstamp attack) against it.
Exit 0 when everything behaved as a safe verifier must.
`;

const LOAD_BALANCER = '127.0.0.1';
const CLIENTS = ['127.0.0.5', '127.0.0.6'] as const;
const ATTACKER = '127.0.0.7';

const out = (text = ''): void => {
  process.stdout.write(`${text}\n`);
};
const part = (title: string): void => out(`\n── ${title} ${'─'.repeat(Math.max(4, 76 - title.length))}\n`);

function demoKey(): { privateJwk: Record<string, unknown> & { kid: string; alg: string }; publicJwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const meta = { kid: 'demo-es256', alg: 'ES256' };
  return {
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), ...meta },
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), ...meta },
  };
}

const LAYER: Readonly<Record<string, string>> = { l3: 'l3 (TCP peer)', l4: 'l4 (PROXY header)', l7: 'l7 (forwarding header)' };

function legitimateOk(row: TrafficRow): boolean {
  return row.status === 200 && row.agreement === 'match' && row.ip === row.client;
}

/** Linux routes all of 127.0.0.0/8 to loopback; macOS only 127.0.0.1 unless aliases are added. */
async function missingLoopbackAddress(addresses: readonly string[]): Promise<string | undefined> {
  for (const address of addresses) {
    const probe = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, address, () => resolve(true));
    });
    if (ok) await new Promise<void>((resolve) => probe.close(() => resolve()));
    else return address;
  }
  return undefined;
}

export async function run(argv: string[]): Promise<number> {
  parseFlags(argv, {});
  const missing = await missingLoopbackAddress([...CLIENTS, ATTACKER]);
  if (missing !== undefined) {
    process.stderr.write(
      `ipstamp demo: this system cannot use ${missing} as a loopback address, and the demo plays its clients from ${[...CLIENTS, ATTACKER].join(', ')}. ` +
        `On macOS add them once: for a in ${[...CLIENTS, ATTACKER].map((a) => a.split('.')[3]).join(' ')}; do sudo ifconfig lo0 alias 127.0.0.$a up; done\n`,
    );
    return 2;
  }
  const started = performance.now();
  const key = demoKey();
  let verifier: DemoVerifier | undefined;
  let balancer: ProxyForwarder | undefined;
  const agents: Agent[] = [];
  try {
    verifier = await startDemoVerifier({ publicJwk: key.publicJwk, loadBalancer: LOAD_BALANCER });
    balancer = await startProxyForwarder({ upstream: { host: '127.0.0.1', port: verifier.port }, version: 2 });
    const viaBalancer = `http://${balancer.host}:${balancer.port}/orders`;

    out('ipstamp demo — the real client address behind a load balancer, and why it cannot be forged');
    out();
    out(
      formatTable(
        ['PART', 'WHERE', 'WHAT'],
        [
          ['verifier', `127.0.0.1:${verifier.port}`, `Fastify + ipstamp plugin; PROXY headers honoured from ${LOAD_BALANCER} only`],
          ['load balancer', `${balancer.host}:${balancer.port}`, 'TCP, writes a PROXY v2 header naming each client (like HAProxy send-proxy-v2)'],
          ['clients', CLIENTS.join(', '), 'the ipstamp SDK: stamped fetch, address learned from the echo endpoint'],
          ['attacker', `${CLIENTS[1]}, ${ATTACKER}`, 'holds the client key too: the worst case'],
          ['key', `${key.privateJwk.kid} (ES256)`, 'made just now; the verifier holds its public half'],
        ],
      ),
    );

    part('1. Legitimate traffic, through the load balancer');
    const legit: TrafficRow[] = [];
    for (const client of CLIENTS) {
      const agent = clientAgent(client);
      agents.push(agent);
      legit.push(...(await legitimateTraffic(key.privateJwk, viaBalancer, agent, client)));
    }
    out(
      formatTable(
        ['CLIENT', 'REQUEST', 'STATUS', 'ATTESTED IP', 'AGREEMENT', 'DECIDED BY', ''],
        legit.map((r) => [
          r.client,
          r.what,
          String(r.status),
          r.ip ?? r.reason ?? '-',
          r.agreement ?? '-',
          LAYER[r.decidedBy ?? ''] ?? '-',
          legitimateOk(r) ? 'ok' : 'UNEXPECTED',
        ]),
      ),
    );

    part('2. Forged traffic, through the load balancer');
    const attackerAgent = agents[1]!;
    const forged = await forgedTraffic(
      key.privateJwk,
      viaBalancer,
      { victim: agents[0]!, attacker: attackerAgent },
      { victim: CLIENTS[0], attacker: CLIENTS[1] },
    );
    out(
      formatTable(
        ['FROM', 'ATTEMPT', 'STATUS', 'REASON', ''],
        forged.map((r) => [
          r.client,
          r.what,
          String(r.status),
          r.reason ?? (r.status < 300 ? 'ACCEPTED' : '-'),
          r.reason === r.expected ? 'rejected, as it must be' : `UNEXPECTED (must be ${r.expected})`,
        ]),
      ),
    );

    part(`3. The attack catalog (ipstamp attack), straight at the verifier from ${ATTACKER}`);
    out(`  what an attacker who gets past the balancer can try; PROXY headers from ${ATTACKER} are not trusted`);
    out();
    const text = createTextReport(ATTACK_CATALOG);
    out(text.header());
    const report: AttackReport = await runAttacks({
      target: verifier.url,
      key: key.privateJwk,
      localAddress: ATTACKER,
      onResult: (result) => out(text.line(result)),
    });
    out(text.outro(report));

    const legitGood = legit.every(legitimateOk);
    const forgedGood = forged.every((r) => r.reason === r.expected);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    part('Verdict');
    out(`  legitimate requests accepted with agreement match:  ${legitGood ? 'yes' : 'NO'}`);
    out(`  forged requests rejected for the right reason:      ${forgedGood ? 'yes' : 'NO'}`);
    out(`  attack catalog:                                     ${report.exitCode === 0 ? 'every attack rejected' : 'NOT SAFE'}`);
    out(`  (${seconds} s)  Next: README.md, or \`ipstamp attack --help\` to point the catalog at your own deployment.`);
    return legitGood && forgedGood && report.exitCode === 0 ? 0 : 1;
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    await balancer?.close();
    await verifier?.close();
  }
}
