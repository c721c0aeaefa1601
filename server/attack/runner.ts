import { canonicalAddress } from '../../shared/index.js';
import { ATTACK_CATALOG, TICKET_ATTACK_CATALOG } from './catalog/index.js';
import type { Attack } from './catalog/types.js';
import { createAttackContext } from './context.js';
import { discoverAddress, findTicketEndpoint, probeTarget } from './discovery.js';
import { conclude, describeExpectation } from './judge.js';
import { loadAttackKey } from './keys.js';
import { AttackSetupError, type AttackReport, type AttackResult, type AttackRunInfo, type AttackSummary, type TicketRequestBudget } from './results.js';
import { runAttack } from './run-attack.js';
import { plannedTicketRequests, TicketBudget, ticketCost, ticketGate } from './ticket-budget.js';
import { createTicketTools, type RunTicketTools } from './ticket-tools.js';
import { createTransport } from './transport.js';

export interface RunAttacksOptions {
  /** The URL under attack: a route that requires a stamp (and, unless `method` is given, answers GET and POST). */
  target: string | URL;
  /**
   * The route's path on the target's origin (`/orders`), replacing the target URL's path.
   * Every attack and control goes there.
   */
  path?: string;
  /**
   * The route's method: every attack and control uses it. A POST, PUT or PATCH carries a small
   * JSON body that every stamp digests (`cdg`). Default: GET, and POST for the body-digest attacks.
   */
  method?: string;
  /**
   * A client key the target trusts: a private JWK (or `oct`) with `kid` and `alg`. Without
   * one only the ticket attacks run (they use keys the harness makes: tickets need no registration).
   */
  key?: Readonly<Record<string, unknown>>;
  /** The address the target observes for us; default: ask its echo endpoint (PROTOCOL.md §6). */
  ip?: string;
  /** Run only these attacks (by name). */
  only?: readonly string[];
  /** The catalog to run; default the built-in `ATTACK_CATALOG`, then `TICKET_ATTACK_CATALOG` when there is an issuer. */
  attacks?: readonly Attack[];
  /**
   * The ticket issuer the target trusts (its origin, or its ticket endpoint). Default: the
   * target itself, when it publishes `/.well-known/ipstamp/issuer-jwks`; else no ticket attack runs.
   */
  issuer?: string | URL;
  /** A local address the issuer trusts as a proxy: the ip-unverifiable ticket-request attacks connect from it. */
  proxyAddress?: string;
  /** The target's clock-skew tolerance in seconds (default 5): how long past a ticket's exp the expiry attack waits. */
  skew?: number;
  /** The longest the expiry attack waits for a ticket to run out, in ms. Default 15000; longer-lived tickets skip it. */
  ticketWaitMs?: number;
  /** Per request, in ms. Default 3000. */
  timeoutMs?: number;
  /** Copies sent at once by race attacks. Default 8. */
  raceCopies?: number;
  /** No attack starts after this many ms (the rest are reported as not run). Default 50000. */
  maxRunMs?: number;
  /** Source address of every connection. */
  localAddress?: string;
  /** Extra CA certificates (PEM) trusted for an https target. */
  ca?: string | Buffer;
  /** Told after each attack (for progress lines). */
  onResult?: (result: AttackResult, index: number, total: number) => void;
  /** Told once the address is known, before the first attack. */
  onReady?: (info: AttackRunInfo) => void;
  /** Told before each attack. */
  onStart?: (attack: Attack, index: number, total: number) => void;
}

function checkTarget(target: string | URL): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new AttackSetupError('bad-target');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) throw new AttackSetupError('bad-target');
  url.hash = '';
  return url;
}

/** An absolute path on the target's origin: never `//host`, which would leave the origin. */
function checkPath(target: URL, path: unknown): URL {
  if (typeof path !== 'string' || !/^\/(?![/\\])[^\s#\\]*$/.test(path) || path.length > 2048) {
    throw new TypeError('path must be an absolute path on the target, like /orders');
  }
  return new URL(path, target.origin);
}

function checkMethod(method: unknown): string {
  if (typeof method !== 'string' || !/^[A-Za-z][A-Za-z-]{0,19}$/.test(method)) throw new TypeError('method must be an HTTP method name, like POST');
  return method.toUpperCase();
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new TypeError(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

function select(catalog: readonly Attack[], only: readonly string[] | undefined): readonly Attack[] {
  if (only === undefined) return catalog;
  const known = new Set(catalog.map((a) => a.name));
  const unknown = only.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new TypeError(`only: no attack named ${unknown.map((n) => JSON.stringify(n)).join(', ')}`);
  const wanted = new Set(only);
  return catalog.filter((a) => wanted.has(a.name));
}

/** An attack reported, not run: the target answers too slowly, or the issuer's rate limit has no room for it. */
function notRun(attack: Attack, note: string): AttackResult {
  return {
    name: attack.name,
    description: attack.description,
    expect: attack.expect,
    must: describeExpectation(attack.expect),
    got: 'not run',
    verdict: 'error',
    note,
    outcomes: [],
    tags: attack.tags ?? [],
    ms: 0,
  };
}

function summarize(results: readonly AttackResult[]): AttackSummary {
  const count = (v: AttackResult['verdict']): number => results.filter((r) => r.verdict === v).length;
  return { total: results.length, passed: count('pass'), warnings: count('warn'), failed: count('fail'), skipped: count('skip'), errors: count('error') };
}

const isTicketAttack = (a: Pick<Attack, 'tags'>): boolean => a.tags?.includes('ticket') === true;

function notesFor(results: readonly AttackResult[]): string[] {
  const notes: string[] = [];
  const refused = results.filter((r) => 'accept' in r.expect && r.verdict === 'fail');
  if (refused.some((r) => isTicketAttack(r))) {
    notes.push(
      "A ticket control was refused. Check that the target trusts the issuer: its issuers option must map the iss of the issuer's tickets to the issuer's JWK Set. Until the ticket controls pass, a ticket attack's rejection proves nothing.",
    );
  }
  if (refused.some((r) => !isTicketAttack(r))) {
    notes.push(
      "A legitimate control was refused. Check that the target trusts this key (kid and alg), that the ip is the address the target observes for this machine, and that the target URL answers GET and POST (or name the route's method and path: --method, --path): until the controls pass, a rejection below proves nothing.",
    );
  }
  // the tell-tale of a target that requires no stamp; what else got through tells why
  if (results.some((r) => r.name === 'stamp-missing' && r.verdict === 'fail')) {
    const alsoThrough = results.filter((r) => r.name !== 'stamp-missing' && r.verdict === 'fail' && 'reject' in r.expect);
    notes.push(
      alsoThrough.length === 0
        ? 'The target accepted a request with no stamp at all (stamp-missing), and refused every bad stamp it was sent: this route does not require one, it is optional (required: false). Point the harness at a route that enforces.'
        : "The target accepted a request with no stamp at all (stamp-missing), and other attacks got through too: this route does not require one, and nothing may be refused there. Either the verifier runs in report-only mode (reportOnly: true, ipstamp gateway --report-only), which checks every stamp but serves the refused ones as unstamped; or no verifier checks this route at all (config.ipstamp false, or a target the requests reach without passing a verifier); or the route is optional (required: false) and each of the others is a hole of its own. The verifier's counts tell them apart: report-only counts each attack it served under the reason it would have refused it for. Point the harness at a route that enforces: until stamp-missing passes, the attacks that got through may have been refused by the verifier and served anyway, or never checked at all.",
    );
  }
  const flagged = results.filter(
    (r) => r.tags.includes('ip') && r.verdict === 'fail' && r.outcomes.some((o) => o.kind === 'response' && o.agreement === 'mismatch'),
  );
  if (flagged.length > 0) {
    notes.push(
      `The target accepted stamps whose ip disagrees with the network (agreement: mismatch) — ${flagged.map((r) => r.name).join(', ')}. It runs with onMismatch: 'flag', which records the disagreement instead of refusing it; the ip attacks pass only against onMismatch: 'reject'.`,
    );
  }
  return notes;
}

/**
 * Runs the catalog against a live verifier over HTTP, speaking only PROTOCOL.md. Throws
 * `AttackSetupError` when it cannot start (key unusable, target unreachable); otherwise the
 * report says what each attack got, and `exitCode` sums it up.
 */
export async function runAttacks(options: RunAttacksOptions): Promise<AttackReport> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const target = options.path === undefined ? checkTarget(options.target) : checkPath(checkTarget(options.target), options.path);
  const method = options.method === undefined ? undefined : checkMethod(options.method);
  const givenKey = options.key === undefined ? undefined : loadAttackKey(options.key);
  const timeoutMs = integerOption('timeoutMs', options.timeoutMs, 3000, 50, 60_000);
  const raceCopies = integerOption('raceCopies', options.raceCopies, 8, 2, 64);
  const maxRunMs = integerOption('maxRunMs', options.maxRunMs, 50_000, 100, 600_000);
  const skew = integerOption('skew', options.skew, 5, 0, 86_400);
  const maxWaitMs = integerOption('ticketWaitMs', options.ticketWaitMs, 15_000, 0, 900_000);
  const proxyAddress = options.proxyAddress === undefined ? undefined : canonicalAddress(options.proxyAddress);
  if (options.proxyAddress !== undefined && proxyAddress === undefined) throw new TypeError('proxyAddress must be a valid, specified IPv4 or IPv6 address');
  let attacks = select(options.attacks ?? [...ATTACK_CATALOG, ...TICKET_ATTACK_CATALOG], options.only);
  const reach = {
    timeoutMs,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  };

  let ip: string;
  if (options.ip !== undefined) {
    const given = canonicalAddress(options.ip);
    if (given === undefined) throw new TypeError('ip must be a valid, specified IPv4 or IPv6 address');
    ip = given;
    await probeTarget(target, reach);
  } else {
    ip = await discoverAddress(target, reach);
  }

  const endpoint = attacks.some(isTicketAttack) ? await findTicketEndpoint(target, options.issuer, reach) : undefined;
  // named with `only`, a ticket attack runs even without an issuer, to say why it cannot apply
  if (!endpoint && options.only === undefined) attacks = attacks.filter((a) => !isTicketAttack(a));
  if (!givenKey) {
    if (!endpoint) throw new AttackSetupError('no-issuer');
    if (attacks.some((a) => !isTicketAttack(a))) {
      if (options.only !== undefined) throw new TypeError('only: without a key only ticket attacks can run');
      attacks = attacks.filter(isTicketAttack);
    }
  }
  const budget = new TicketBudget();
  const tickets: RunTicketTools | undefined =
    endpoint &&
    createTicketTools({ endpoint, target, skew, maxWaitMs, budget, ...reach, ...(proxyAddress ? { proxyAddress } : {}), ...(method ? { method } : {}) });
  // without a client key the stamps of the run are the ticket holder's: its thumbprint is its kid
  const key = givenKey ?? loadAttackKey(tickets!.key().privateJwk);

  const ipSource = options.ip === undefined ? 'echo' : 'given';
  const ticketIssuer = endpoint === undefined ? {} : { ticketIssuer: endpoint.href };
  const ctx = createAttackContext({ target, ip, key, raceCopies, ...(method ? { method } : {}), ...(tickets ? { tickets } : {}) });
  options.onReady?.({ target: target.href, method: ctx.method, ip, ipSource, kid: key.kid, alg: key.alg, ...ticketIssuer });
  const startedAt = new Date();
  const started = performance.now();
  const transport = createTransport({ ...reach, ...(tickets ? { gate: ticketGate(tickets.endpoint, budget) } : {}) });
  const ticketAttacks = attacks.filter(isTicketAttack);
  const needed = tickets && plannedTicketRequests(ticketAttacks, tickets);
  let probed = false;
  const overBudget: string[] = [];
  const results: AttackResult[] = [];
  try {
    for (const [i, attack] of attacks.entries()) {
      options.onStart?.(attack, i, attacks.length);
      let result: AttackResult;
      if (performance.now() - started > maxRunMs) {
        result = notRun(attack, `the run stopped after ${Math.round(maxRunMs / 1000)} s: the target answers too slowly`);
      } else if (tickets && isTicketAttack(attack)) {
        if (!probed) {
          probed = true;
          // the held ticket, which the ticket attacks use anyway, is the probe: its answer states the issuer's limit
          if (ticketAttacks.some((a) => a.ticketRequests?.held === true)) await tickets.held().catch(() => undefined);
        }
        const cost = ticketCost(attack, tickets);
        const left = budget.left();
        if (left !== undefined && cost > left) {
          overBudget.push(attack.name);
          result = notRun(attack, `the issuer's rate limit has no room for its ${cost} ticket request${cost === 1 ? '' : 's'} (see the verdict)`);
        } else {
          result = await runAttack(attack, ctx, transport, timeoutMs);
        }
      } else {
        result = await runAttack(attack, ctx, transport, timeoutMs);
      }
      results.push(result);
      options.onResult?.(result, i, attacks.length);
    }
  } finally {
    await transport.close();
    await tickets?.close();
  }
  const summary = summarize(results);
  let ticketRequests: TicketRequestBudget | undefined;
  if (tickets && needed !== undefined && ticketAttacks.length > 0) {
    const { limit, sent } = budget;
    const left = budget.left();
    ticketRequests = { needed, sent, ...(limit === undefined ? {} : { limit }), ...(left === undefined ? {} : { left }) };
  }
  const budgetReason =
    tickets && needed !== undefined
      ? `the issuer's rate limit (${budget.describe()}) has no room for the ${needed} ticket requests this run needs: ${overBudget.length} ticket attack${overBudget.length === 1 ? '' : 's'} not run (${overBudget.join(', ')}); raise the issuer's limit (the plugin's issuer.rateLimit, serve --ticket-rate-limit) or run again once the window resets`
      : '';
  const conclusion = conclude(results, { reason: budgetReason, notRun: overBudget });
  return {
    target: target.href,
    method: ctx.method,
    ip,
    ipSource,
    kid: key.kid,
    alg: key.alg,
    ...ticketIssuer,
    ...(ticketRequests ? { ticketRequests } : {}),
    startedAt: startedAt.toISOString(),
    ms: Math.round(performance.now() - started),
    results,
    summary,
    notes: notesFor(results),
    ...conclusion,
  };
}
