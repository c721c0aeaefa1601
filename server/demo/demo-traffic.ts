import { Agent, fetch as undiciFetch, request } from 'undici';
import { createStamper } from '../../client/stamper.js';
import { createStampedFetch } from '../../client/stamped-fetch.js';
import type { FetchLike } from '../../client/fetch-like.js';
import type { StampKeyInput } from '../../client/signing-key.js';
import { tokenTamper } from '../attack/index.js';

/** One line of the demo's tables: who sent what, and what the verifier made of it. */
export interface TrafficRow {
  readonly client: string;
  readonly what: string;
  readonly status: number;
  /** `ip`, agreement and decidedBy of an accepted request; the reason of a rejected one. */
  readonly ip?: string;
  readonly agreement?: string;
  readonly decidedBy?: string;
  readonly reason?: string;
  /** What a safe verifier must answer, for forged rows. */
  readonly expected?: string;
}

async function readJson(text: string): Promise<Record<string, unknown>> {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function rowOf(client: string, what: string, status: number, body: Record<string, unknown>, expected?: string): TrafficRow {
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    client,
    what,
    status,
    ...(status < 300 ? { ip: text(body.ip), agreement: text(body.agreement), decidedBy: text(body.decidedBy) } : { reason: text(body.reason) }),
    ...(expected === undefined ? {} : { expected }),
  };
}

/** A client on its own loopback address: an undici Agent bound to it. */
export function clientAgent(localAddress: string): Agent {
  return new Agent({ localAddress, connect: { timeout: 3000 }, headersTimeout: 3000, bodyTimeout: 3000 });
}

/**
 * Legitimate traffic the way an application sends it: the SDK's stamped fetch, learning its
 * address from the verifier's echo (through the balancer), with body digests.
 */
export async function legitimateTraffic(key: StampKeyInput, url: string, agent: Agent, client: string): Promise<TrafficRow[]> {
  const viaAgent = ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as FetchLike;
  const stampedFetch = createStampedFetch({ key, ip: 'echo', bodyDigest: true, fetch: viaAgent });
  const rows: TrafficRow[] = [];
  const get = await stampedFetch(url);
  rows.push(rowOf(client, 'GET /orders', get.status, await readJson(await get.text())));
  const post = await stampedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":"book","qty":1}' });
  rows.push(rowOf(client, 'POST /orders (body digest)', post.status, await readJson(await post.text())));
  return rows;
}

async function send(
  url: string,
  agent: Agent,
  stamp: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, { dispatcher: agent, headers: { 'client-ip-attestation': stamp, ...headers }, signal: AbortSignal.timeout(3000) });
  return { status: res.statusCode, body: await readJson(await res.body.text()) };
}

/** Forged traffic through the balancer: each a classic way to lie about an address, and its answer. */
export async function forgedTraffic(
  key: StampKeyInput,
  url: string,
  agents: { victim: Agent; attacker: Agent },
  addresses: { victim: string; attacker: string },
): Promise<TrafficRow[]> {
  const rows: TrafficRow[] = [];
  const victim = createStamper({ key, ip: addresses.victim });

  // a stamp seen on the wire (a log, a proxy) is used a second time
  const seen = await victim.stamp({ method: 'GET', url });
  const first = await send(url, agents.victim, seen);
  const again = await send(url, agents.attacker, seen);
  rows.push(rowOf(addresses.attacker, `replays a stamp ${addresses.victim} used (${first.status} the first time)`, again.status, again.body, 'replay'));

  // the key holder signs an address it does not have, and forges the header a naive app trusts
  const spoofer = createStamper({ key, ip: '203.0.113.9' });
  const spoofed = await send(url, agents.attacker, await spoofer.stamp({ method: 'GET', url }), { 'x-forwarded-for': '203.0.113.9' });
  rows.push(rowOf(addresses.attacker, 'claims 203.0.113.9, with a forged X-Forwarded-For', spoofed.status, spoofed.body, 'ip-mismatch'));

  // a real stamp whose ip is edited without the key
  const real = await victim.stamp({ method: 'GET', url });
  const tampered = tokenTamper.withPayload(real, { ...tokenTamper.payloadOf(real), ip: addresses.attacker });
  const edited = await send(url, agents.attacker, tampered);
  rows.push(rowOf(addresses.attacker, `edits ${addresses.victim}'s stamp to say ${addresses.attacker}`, edited.status, edited.body, 'bad-signature'));

  // a stamp kept for later
  const early = createStamper({ key, ip: addresses.victim, now: () => Date.now() - 120_000 });
  const stale = await send(url, agents.victim, await early.stamp({ method: 'GET', url }));
  rows.push(rowOf(addresses.victim, 'sends a stamp made 2 minutes ago', stale.status, stale.body, 'expired'));
  return rows;
}
