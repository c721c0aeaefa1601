import { hintAddress } from '../../shared/address.js';
import type { TrustMatcher } from './trust.js';

/** The forwarding headers proxies commonly write; a deployment reads exactly one (PROTOCOL.md §4). */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

/** A trusted proxy wrote forwarding headers, but not the configured one. */
export interface OtherForwardingHeader {
  /** The configured header, lower case. */
  readonly forwardedHeader: string;
  /** The other forwarding headers the request carried, in a fixed order. */
  readonly sent: readonly string[];
  /** The trusted immediate peer that sent them (l4 when the PROXY layer gave one, else l3). */
  readonly peer: string;
}

export interface ForwardingSources {
  readonly headers: Readonly<Record<string, unknown>>;
  readonly hints: { readonly l3?: unknown; readonly l4?: unknown };
}

export type OtherForwardingHeaderWatch = (request: ForwardingSources) => OtherForwardingHeader | undefined;

function trustedAddress(raw: unknown, trust: TrustMatcher): string | undefined {
  const address = typeof raw === 'string' ? hintAddress(raw) : undefined;
  return address !== undefined && trust.contains(address) ? address : undefined;
}

/**
 * Notices a proxy that writes the other forwarding header (`forwardedHeader: 'forwarded'`
 * behind an HAProxy that writes X-Forwarded-For): the configured header never arrives, every
 * hop is trusted, and the client's address is never observed — with `onUnverifiable:
 * 'accept'` any claimed address then passes. Answers the finding once per watch, then
 * nothing: call it per request, log what it returns. Cheap on the hot path: a request that
 * carries the configured header, or no forwarding header, costs a few property reads; the
 * trust check runs only for the rest, and nothing runs after the finding.
 */
export function watchOtherForwardingHeader(options: { trust: TrustMatcher; forwardedHeader: { readonly headerName: string } }): OtherForwardingHeaderWatch {
  const { trust } = options;
  const configured = options.forwardedHeader.headerName;
  const others = FORWARDING_HEADERS.filter((name) => name !== configured);
  let found = trust.ranges.length === 0; // no proxy is trusted: no header is read, nothing to notice
  return (request) => {
    if (found || request.headers[configured] !== undefined) return undefined;
    let sent: string[] | undefined;
    for (const name of others) if (request.headers[name] !== undefined) (sent ??= []).push(name);
    if (sent === undefined) return undefined;
    // the immediate peer (§4): l4 when a trusted l3 passed one on, else l3 — and it must be trusted
    const l3 = trustedAddress(request.hints.l3, trust);
    if (l3 === undefined) return undefined;
    const peer = request.hints.l4 === undefined ? l3 : trustedAddress(request.hints.l4, trust);
    if (peer === undefined) return undefined;
    found = true;
    return { forwardedHeader: configured, sent, peer };
  };
}

/** The warning line for a finding: what was sent, what is configured, what to change. */
export function otherForwardingHeaderMessage(finding: OtherForwardingHeader): string {
  return (
    `ipstamp: a trusted proxy sent a forwarding header other than the configured one (${finding.sent.join(', ')}, not ${finding.forwardedHeader}): ` +
    'client addresses cannot be observed; set forwardedHeader (--forwarded-header) to the header your proxies write'
  );
}
