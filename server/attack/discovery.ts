import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { ticketEndpoint } from '../../client/index.js';
import { canonicalAddress } from '../../shared/index.js';
import { TICKET_WIRE } from './catalog/forge.js';
import { AttackSetupError } from './results.js';
import { MAX_BODY_BYTES, outcomeOfError, readBoundedText } from './transport.js';

/** What a run learns before it starts: the address the target sees, whether it is up, the ticket endpoint. */

export interface ReachOptions {
  readonly timeoutMs: number;
  readonly localAddress?: string;
  readonly ca?: string | Buffer;
}

/** A certificate the harness does not trust is worth naming: the fix is --ca, not the network. */
function tlsProblem(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|^ERR_TLS|^ERR_SSL/.test(code)) return `TLS: ${code}`;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** PROTOCOL.md §6: the address the target observes for us, from `GET <origin>/.well-known/ipstamp`. */
export async function discoverAddress(target: URL, options: ReachOptions): Promise<string> {
  const agent = new Agent({
    connect: { timeout: options.timeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  try {
    let text: string;
    let status: number;
    try {
      const res = await request(new URL('/.well-known/ipstamp', target.origin), {
        dispatcher: agent,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      status = res.statusCode;
      text = (await res.body.text()).slice(0, MAX_BODY_BYTES);
    } catch (error) {
      const outcome = outcomeOfError(error);
      const tls = tlsProblem(error);
      const detail = tls ?? (outcome.kind === 'unreachable' ? outcome.code : outcome.kind === 'timeout' ? 'no answer' : 'connection closed');
      throw new AttackSetupError('target-unreachable', `${target.origin}: ${detail}`, { cause: error });
    }
    let ip: unknown;
    try {
      ip = (JSON.parse(text) as { ip?: unknown }).ip;
    } catch {
      ip = undefined;
    }
    const canonical = typeof ip === 'string' ? canonicalAddress(ip) : undefined;
    if (status !== 200 || canonical === undefined) throw new AttackSetupError('no-address', `HTTP ${status}`);
    return canonical;
  } finally {
    await agent.close();
  }
}

/** With `--ip` there is no echo to ask: a TCP connect tells a target that is down from one that rejects. */
export function probeTarget(target: URL, options: ReachOptions): Promise<void> {
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    const fail = (detail: string, cause?: unknown): void => {
      socket.destroy();
      reject(new AttackSetupError('target-unreachable', `${target.origin}: ${detail}`, { cause }));
    };
    socket.setTimeout(options.timeoutMs, () => fail('no answer'));
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'error', error));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Does `origin` publish an issuer JWK Set (PROTOCOL.md §7.2)? Then it issues tickets itself. */
async function publishesIssuerKeys(origin: string, options: ReachOptions): Promise<boolean> {
  const agent = new Agent({
    connect: { timeout: options.timeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  try {
    const res = await request(new URL(TICKET_WIRE.issuerJwksPath, origin), { dispatcher: agent, signal: AbortSignal.timeout(options.timeoutMs) });
    const text = await readBoundedText(res.body);
    if (res.statusCode !== 200) return false;
    const keys = (JSON.parse(text) as { keys?: unknown }).keys;
    return Array.isArray(keys) && keys.length > 0;
  } catch {
    return false; // no answer, or no JWK Set: the target is no issuer
  } finally {
    await agent.close();
  }
}

/**
 * The ticket endpoint the ticket attacks ask: the one given (an origin or the endpoint URL,
 * checked to accept connections), else the target's own when it publishes issuer keys, else
 * undefined — the target neither issues nor was told of an issuer, so no ticket attack runs.
 */
export async function findTicketEndpoint(target: URL, given: string | URL | undefined, options: ReachOptions): Promise<URL | undefined> {
  if (given !== undefined) {
    const endpoint = ticketEndpoint(given);
    await probeTarget(endpoint, options);
    return endpoint;
  }
  return (await publishesIssuerKeys(target.origin, options)) ? new URL(TICKET_WIRE.ticketPath, target.origin) : undefined;
}
