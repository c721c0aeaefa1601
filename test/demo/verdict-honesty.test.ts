import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyServerFactory } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProxyProtocolServer } from '../../server/hints/proxy-connection.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import type { DemoVerifier } from '../../server/demo/demo-verifier.js';

/**
 * `ipstamp demo` must never say everything behaved when a step did not. The demo builds its
 * own verifier; here that verifier is swapped (the rest — balancer, SDK clients, forgeries,
 * the attack catalog — stays real) for one with a realistic misconfiguration, and the demo
 * must notice it in its verdict and its exit status.
 */
type Variant = 'as-shipped' | 'balancer-not-trusted' | 'stamps-kept-for-minutes' | 'replay-store-down' | 'catalog-aimed-at-no-route';
const state = vi.hoisted(() => ({ variant: 'as-shipped' as string }));

vi.mock('../../server/demo/demo-verifier.js', () => ({
  async startDemoVerifier(options: { publicJwk: Record<string, unknown>; loadBalancer: string }): Promise<DemoVerifier> {
    const variant = state.variant as Variant;
    const serverFactory: FastifyServerFactory<Server> = (handler) =>
      createProxyProtocolServer(handler, { trustedProxies: [options.loadBalancer], proxyProtocol: 'required' });
    const app = Fastify({ logger: false, serverFactory });
    // the verifier's own idea of its proxies (the balancer forgotten) or of freshness (stamps good for 5 minutes)
    const trustedProxies = variant === 'balancer-not-trusted' ? [] : [options.loadBalancer];
    const maxAge = variant === 'stamps-kept-for-minutes' ? 300 : 30;
    // or its replay store: down, so every stamp that reaches it is refused for that reason instead
    const replayStore =
      variant === 'replay-store-down'
        ? {
            insertIfAbsent: (): Promise<boolean> => Promise.reject(new Error('replay store down')),
          }
        : undefined;
    await app.register(ipstamp, { keys: { keys: [options.publicJwk] }, trustedProxies, maxAge, onMismatch: 'reject', ...(replayStore ? { replayStore } : {}) });
    app.all('/orders', async (request) => {
      const verdict = request.ipStamp;
      return { ip: verdict?.ip, agreement: verdict?.agreement, decidedBy: verdict?.hints.decidedBy };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const path = variant === 'catalog-aimed-at-no-route' ? '/no-such-route' : '/orders';
    return { app, url: `http://127.0.0.1:${port}${path}`, port, close: () => app.close() };
  },
}));

const { run } = await import('../../server/cli/commands/demo.js');

async function demo(variant: Variant): Promise<{ code: number; stdout: string }> {
  state.variant = variant;
  let stdout = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    return { code: await run([]), stdout };
  } finally {
    write.mockRestore();
  }
}

const verdictLine = (stdout: string, label: RegExp): string => stdout.split('\n').find((l) => label.test(l)) ?? '';
const LEGIT = /legitimate requests accepted with agreement match:/;
const FORGED = /forged requests rejected for the right reason:/;
const CATALOG = /attack catalog: /;

afterEach(() => {
  state.variant = 'as-shipped';
});

describe('ipstamp demo: the verdict follows what happened', () => {
  it('as shipped: every step behaved, exit 0', async () => {
    const { code, stdout } = await demo('as-shipped');
    expect(verdictLine(stdout, LEGIT)).toMatch(/yes$/);
    expect(verdictLine(stdout, FORGED)).toMatch(/yes$/);
    expect(verdictLine(stdout, CATALOG)).toMatch(/every attack rejected$/);
    expect(code).toBe(0);
  });

  it('a verifier that does not trust the balancer sees every client as the balancer: legitimate NO, exit 1', async () => {
    const { code, stdout } = await demo('balancer-not-trusted');
    expect(stdout).toMatch(/^\s+127\.0\.0\.5\s+GET \/orders\s+200\s+127\.0\.0\.1\s.*UNEXPECTED$/m);
    expect(verdictLine(stdout, LEGIT)).toMatch(/NO$/);
    expect(verdictLine(stdout, FORGED)).toMatch(/yes$/);
    expect(verdictLine(stdout, CATALOG)).toMatch(/every attack rejected$/);
    expect(code).toBe(1);
  });

  it('a verifier that takes a stamp made 2 minutes ago lets the kept stamp through: forged NO, exit 1', async () => {
    const { code, stdout } = await demo('stamps-kept-for-minutes');
    expect(stdout).toMatch(/sends a stamp made 2 minutes ago\s+200\s+ACCEPTED\s+UNEXPECTED \(must be expired\)$/m);
    expect(verdictLine(stdout, LEGIT)).toMatch(/yes$/);
    expect(verdictLine(stdout, FORGED)).toMatch(/NO$/);
    expect(verdictLine(stdout, CATALOG)).toMatch(/every attack rejected$/);
    expect(code).toBe(1);
  });

  it('a replay refused for another reason is not shown as refused as it must be: forged NO, exit 1', async () => {
    const { code, stdout } = await demo('replay-store-down');
    const replayRow = stdout.split('\n').find((l) => /replays a stamp 127\.0\.0\.5 used/.test(l)) ?? '';
    expect(replayRow).toMatch(/UNEXPECTED \(must be replay\)$/);
    expect(replayRow).not.toMatch(/rejected, as it must be/);
    expect(verdictLine(stdout, FORGED)).toMatch(/NO$/);
    expect(code).toBe(1);
  });

  it('an attack catalog that cannot conclude is not a safe verdict: exit 1', async () => {
    const { code, stdout } = await demo('catalog-aimed-at-no-route');
    expect(stdout).toMatch(/^INCONCLUSIVE/m);
    expect(verdictLine(stdout, LEGIT)).toMatch(/yes$/);
    expect(verdictLine(stdout, FORGED)).toMatch(/yes$/);
    expect(verdictLine(stdout, CATALOG)).toMatch(/NOT SAFE$/);
    expect(code).toBe(1);
  });
});
