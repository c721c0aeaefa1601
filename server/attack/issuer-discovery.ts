import { Agent, request } from 'undici';
import { ticketEndpoint } from '../../client/ticket-holder.js';
import { ISSUER_JWKS_PATH, TICKET_PATH } from '../../shared/ticket-schema.js';
import { probeTarget } from './discover.js';
import { readBoundedText } from './response-reading.js';

interface ReachOptions {
  readonly timeoutMs: number;
  readonly localAddress?: string;
  readonly ca?: string | Buffer;
}

/** Does `origin` publish an issuer JWK Set (PROTOCOL.md §7.2)? Then it issues tickets itself. */
async function publishesIssuerKeys(origin: string, options: ReachOptions): Promise<boolean> {
  const agent = new Agent({
    connect: { timeout: options.timeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  try {
    const res = await request(new URL(ISSUER_JWKS_PATH, origin), { dispatcher: agent, signal: AbortSignal.timeout(options.timeoutMs) });
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
  return (await publishesIssuerKeys(target.origin, options)) ? new URL(TICKET_PATH, target.origin) : undefined;
}
