import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttacks, type Attack, type AttackResult } from '../../server/attack/index.js';
import { conclude, judgeOutcome, worse } from '../../server/attack/judge.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePort } from '../support/ports.js';

/**
 * The verdict never says SAFE (or UNSAFE) when the run cannot tell: a target scripted to answer
 * exactly what each case needs — a race with two winners, a refused original, a vanished
 * target — stands in for the deployments that answer so.
 */

/** How the scripted target answers a request: named by the request's `x-script` header. */
type Script = 'accept' | 'refuse' | 'accept-twice';

function answer(res: ServerResponse, status: number, reason?: string): void {
  res.writeHead(status, { 'content-type': status < 300 ? 'application/json' : 'application/problem+json' });
  res.end(JSON.stringify(status < 300 ? { ip: '127.0.0.1' } : { reason }));
}

/** Accepts or refuses as the request's script says; `accept-twice` accepts a stamp's first two uses only. */
function startScriptedTarget(): Promise<{ url: string; close(): Promise<void> }> {
  const uses = new Map<string, number>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const script = req.headers['x-script'] as Script | undefined;
    const stamp = String(req.headers['client-ip-attestation']);
    if (script === 'accept') return answer(res, 200);
    if (script === 'accept-twice') {
      const n = (uses.get(stamp) ?? 0) + 1;
      uses.set(stamp, n);
      return n <= 2 ? answer(res, 200) : answer(res, 401, 'replay');
    }
    return answer(res, 401, 'bad-signature');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

describe('a verdict is only as sure as its evidence', () => {
  let key: TestKeyPair;
  let target: Awaited<ReturnType<typeof startScriptedTarget>>;
  beforeAll(async () => {
    key = await makeKey('ES256');
    target = await startScriptedTarget();
  });
  afterAll(() => target.close());

  const run = (attacks: Attack[], extra: { raceCopies?: number } = {}) =>
    runAttacks({ target: target.url, key: key.privateJwk, ip: '127.0.0.1', attacks, ...extra });

  it('two copies of one stamp accepted in a race: the attack fails and the run is UNSAFE (exit 1)', async () => {
    const race: Attack = {
      name: 'race-two-winners',
      description: 'copies of one stamp at once',
      expect: { reject: true, reason: 'replay' },
      build: async (ctx) => {
        const stamp = await ctx.stamp();
        return { race: Array.from({ length: ctx.raceCopies }, () => ctx.http(stamp, { headers: { 'x-script': 'accept-twice' } })) };
      },
    };
    const report = await run([race], { raceCopies: 4 });
    expect(report.results[0]).toMatchObject({ verdict: 'fail', got: '2 of 4 accepted; 2 × 401 replay' });
    expect(report.results[0]!.legitimateRefused).toBeUndefined();
    expect(report).toMatchObject({ verdict: 'UNSAFE', exitCode: 1 });
  });

  it('a race in which no copy is accepted proves nothing: INCONCLUSIVE (exit 2), not SAFE', async () => {
    const race: Attack = {
      name: 'race-no-winner',
      description: 'copies of one stamp at once, all refused',
      expect: { reject: true, reason: 'replay' },
      build: async (ctx) => {
        const stamp = await ctx.stamp();
        return { race: Array.from({ length: ctx.raceCopies }, () => ctx.http(stamp, { headers: { 'x-script': 'refuse' } })) };
      },
    };
    const report = await run([race], { raceCopies: 3 });
    expect(report.results[0]).toMatchObject({ verdict: 'fail', legitimateRefused: true, got: '0 of 3 accepted; 3 × 401 bad-signature' });
    expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
  });

  it('a replay whose original was refused proves nothing, whether the replay then got through or not: INCONCLUSIVE', async () => {
    const replayAfterRefusal = (name: string, replay: Script): Attack => ({
      name,
      description: 'an original the target refuses, then its replay',
      expect: { reject: true, reason: 'replay' },
      build: async (ctx) => {
        const stamp = await ctx.stamp();
        return [ctx.http(stamp, { setup: true, headers: { 'x-script': 'refuse' } }), ctx.http(stamp, { headers: { 'x-script': replay } })];
      },
    });
    for (const replay of ['accept', 'refuse'] as const) {
      const report = await run([replayAfterRefusal(`replay-then-${replay}`, replay)]);
      expect(report.results[0]).toMatchObject({
        verdict: 'fail',
        legitimateRefused: true,
        got: 'original refused: 401 bad-signature',
        note: 'the legitimate original was refused, so the attack proves nothing',
      });
      // only the original was judged: the replay's answer cannot count for or against the target
      expect(report.results[0]!.outcomes).toHaveLength(1);
      expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
      expect(report.inconclusive.join('\n')).toMatch(new RegExp(`replay-then-${replay}: a legitimate request was refused`));
    }
  });

  it('a replay whose original could not be sent (the target gone) could not run: an error, not a refusal', async () => {
    const gone = `http://127.0.0.1:${await freePort()}/`;
    const replay: Attack = {
      name: 'replay-original-unreachable',
      description: 'the original goes where nobody listens',
      expect: { reject: true, reason: 'replay' },
      build: async (ctx) => {
        const stamp = await ctx.stamp();
        return [ctx.http(stamp, { setup: true, url: gone }), ctx.http(stamp, { headers: { 'x-script': 'refuse' } })];
      },
    };
    const report = await run([replay]);
    expect(report.results[0]).toMatchObject({ verdict: 'error', got: 'original unreachable (ECONNREFUSED)' });
    expect(report.results[0]!.legitimateRefused).toBeUndefined();
    expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
  });

  it('a run in which no selected attack applied to the target tested nothing: INCONCLUSIVE (exit 2), not SAFE', async () => {
    // an ES256 key: only HMAC keys can be re-used under another alg
    const report = await runAttacks({ target: target.url, key: key.privateJwk, ip: '127.0.0.1', only: ['alg-swap-hmac'] });
    expect(report.results.map((r) => [r.name, r.verdict])).toEqual([['alg-swap-hmac', 'skip']]);
    expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
    expect(report.inconclusive).toEqual(['no attack applied to the target: alg-swap-hmac was not applicable (see its note)']);
    const notApplicable: Attack = { name: 'never-applies', description: 'skips', expect: { reject: true }, build: () => ({ skip: 'not for this target' }) };
    const control: Attack = {
      name: 'control',
      description: 'accepted',
      expect: { accept: true },
      build: async (ctx) => ctx.http(await ctx.stamp(), { headers: { 'x-script': 'accept' } }),
    };
    expect(await run([control, notApplicable])).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
    // one attack that applied and was rejected is a test passed: the rest not applying does not undo it
    const rejected: Attack = { name: 'rejected', description: 'refused', expect: { reject: true }, build: (ctx) => ctx.http(undefined) };
    expect(await run([control, notApplicable, rejected])).toMatchObject({ verdict: 'SAFE', exitCode: 0 });
  });

  it('an attack of several requests is judged by its worst answer: one accepted among warnings fails the run', async () => {
    const accepted_then_misjudged: Attack = {
      name: 'accepted-then-other-reason',
      description: 'two forgeries: the first accepted, the second rejected for another reason than predicted',
      expect: { reject: true, reason: 'replay' },
      build: async (ctx) => [
        ctx.http(await ctx.stamp(), { headers: { 'x-script': 'accept' } }),
        ctx.http(await ctx.stamp(), { headers: { 'x-script': 'refuse' } }),
      ],
    };
    const report = await run([accepted_then_misjudged]);
    expect(report.results[0]).toMatchObject({ verdict: 'fail', got: '200 accepted' });
    expect(report).toMatchObject({ verdict: 'UNSAFE', exitCode: 1 });
  });

  it('an attack that finds the target no longer accepting connections could not run: INCONCLUSIVE, never SAFE', async () => {
    const gone = `http://127.0.0.1:${await freePort()}/`;
    const attacks: Attack[] = [
      {
        name: 'control',
        description: 'accepted',
        expect: { accept: true },
        build: async (ctx) => ctx.http(await ctx.stamp(), { headers: { 'x-script': 'accept' } }),
      },
      { name: 'target-gone', description: 'sent where nobody listens', expect: { reject: true }, build: (ctx) => ctx.http(undefined, { url: gone }) },
    ];
    const report = await run(attacks);
    expect(report.results.map((r) => [r.name, r.verdict, r.got])).toEqual([
      ['control', 'pass', '200 accepted'],
      ['target-gone', 'error', 'unreachable (ECONNREFUSED)'],
    ]);
    expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
    expect(report.inconclusive.join('\n')).toMatch(/target-gone could not run: the target stopped accepting connections/);
  });
});

describe('judging one answer', () => {
  it('a redirect is neither an acceptance nor a rejection: a control answered 3xx was refused, an attack answered 3xx fails', () => {
    for (const status of [301, 302, 307]) {
      expect(judgeOutcome({ accept: true }, { kind: 'response', status }, 1000)).toMatchObject({ verdict: 'fail', legitimateRefused: true });
      const attack = judgeOutcome({ reject: true, reason: 'replay' }, { kind: 'response', status }, 1000);
      expect(attack.verdict).toBe('fail');
      expect(attack.note).toMatch(/not a rejection/);
    }
  });

  it('a rejection unlike the one PROTOCOL §5 predicts is a warning: a close where a reason was predicted, another status for the right reason', () => {
    expect(judgeOutcome({ reject: true, reason: 'replay' }, { kind: 'closed' }, 1000)).toMatchObject({
      verdict: 'warn',
      note: expect.stringMatching(/closing the connection/),
    });
    expect(judgeOutcome({ reject: true, reason: 'replay' }, { kind: 'response', status: 400, reason: 'replay' }, 1000)).toMatchObject({
      verdict: 'warn',
      note: expect.stringMatching(/with status 400; PROTOCOL §5 says 401/),
    });
    expect(judgeOutcome({ reject: true, reason: 'replay' }, { kind: 'response', status: 401, reason: 'replay' }, 1000)).toEqual({ verdict: 'pass' });
  });

  it('of two judgements the worse counts: error over fail over warn over pass, whichever comes first', () => {
    const order = ['pass', 'warn', 'fail', 'error'] as const;
    for (const [i, a] of order.entries()) {
      for (const [j, b] of order.entries()) {
        expect(worse({ verdict: a }, { verdict: b }).verdict).toBe(order[Math.max(i, j)]);
      }
    }
  });

  it('an unreachable target is never judged, whatever the request was meant to get', () => {
    for (const expect_ of [{ accept: true } as const, { reject: true } as const, { reject: true, reason: 'closed' } as const]) {
      expect(judgeOutcome(expect_, { kind: 'unreachable', code: 'ECONNREFUSED' }, 1000).verdict).toBe('error');
    }
  });
});

describe('the run verdict: each kind of attack against the controls of its own kind', () => {
  const result = (name: string, verdict: AttackResult['verdict'], tags: string[], legitimateRefused = false): AttackResult => ({
    name,
    description: name,
    expect: legitimateRefused ? { accept: true } : { reject: true },
    must: '',
    got: legitimateRefused ? '401 bad-ticket' : '200 accepted',
    verdict,
    outcomes: [],
    tags,
    ms: 0,
    ...(legitimateRefused ? { legitimateRefused: true as const } : {}),
  });

  it('a stamp attack accepted while only a ticket control was refused is UNSAFE (exit 1)', () => {
    const results = [result('control-get', 'pass', []), result('control-ticket', 'fail', ['ticket'], true), result('replay-exact', 'fail', [])];
    expect(conclude(results)).toMatchObject({ verdict: 'UNSAFE', exitCode: 1 });
  });

  it('a ticket attack accepted while only a stamp control was refused is UNSAFE (exit 1)', () => {
    const results = [result('control-get', 'fail', [], true), result('control-ticket', 'pass', ['ticket']), result('ticket-replay', 'fail', ['ticket'])];
    expect(conclude(results)).toMatchObject({ verdict: 'UNSAFE', exitCode: 1 });
  });

  it('an attack accepted while a control of its own kind was refused is INCONCLUSIVE (exit 2)', () => {
    const results = [result('control-ticket', 'fail', ['ticket'], true), result('ticket-replay', 'fail', ['ticket'])];
    const conclusion = conclude(results);
    expect(conclusion).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
    // the refused control is named as refused, never among the attacks that got through
    expect(conclusion.inconclusive).toEqual([
      'control-ticket: a legitimate request was refused — 401 bad-ticket',
      'ticket-replay got through, but legitimate requests of the same kind were refused too: make the controls pass and run again',
    ]);
  });

  it("attacks left out for the issuer's rate limit are explained once, by the budget, not again as attacks that could not run", () => {
    const notRun = { ...result('ticket-replay', 'error', ['ticket']), got: 'not run', note: "the issuer's rate limit has no room" };
    const conclusion = conclude([result('control-ticket', 'pass', ['ticket']), notRun], { reason: 'the budget sentence', notRun: ['ticket-replay'] });
    expect(conclusion).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2, inconclusive: ['the budget sentence'] });
  });
});
