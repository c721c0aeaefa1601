import { forwardedScheme, type Scheme } from '../hints/forwarded-proto.js';
import { headerInstances } from '../hints/forwarding-header.js';
import { ownHint } from './network-hints.js';
import type { CompiledOptions } from './options.js';
import type { NetworkHints, VerifyInput } from './types.js';

/** Which evidence named the scheme (configured origins are checked before any of these). */
export type SchemeSource = 'proxy-tls' | 'proto-header' | 'connection';

export interface RequestScheme {
  readonly scheme: Scheme;
  readonly from: SchemeSource;
}

const PROXY_HTTPS: RequestScheme = Object.freeze({ scheme: 'https', from: 'proxy-tls' });
const PROXY_HTTP: RequestScheme = Object.freeze({ scheme: 'http', from: 'proxy-tls' });
const HEADER_HTTPS: RequestScheme = Object.freeze({ scheme: 'https', from: 'proto-header' });
const HEADER_HTTP: RequestScheme = Object.freeze({ scheme: 'http', from: 'proto-header' });
const CONNECTION_HTTPS: RequestScheme = Object.freeze({ scheme: 'https', from: 'connection' });
const CONNECTION_HTTP: RequestScheme = Object.freeze({ scheme: 'http', from: 'connection' });

/**
 * The scheme the client used, for the Host-based origin of step 9, from trusted evidence only,
 * the first that speaks:
 * 1. the PROXY v2 SSL TLV, when the TCP peer (l3) is a trusted proxy: its client flag 0x01 says
 *    whether the client connected over TLS (a header without the TLV says nothing);
 * 2. the configured protocol header, when the immediate peer (l4, else l3) is trusted — the
 *    entry the outermost trusted hop wrote (`forwardedScheme`), if it is `http` or `https`;
 * 3. the connection itself: TLS or not, as the glue read it when the connection was accepted
 *    (`hints.tls`), else `input.protocol`, else http.
 * Configured `origins` come before all of these and make the scheme moot (binding.ts). Pure.
 */
export function requestScheme(
  input: Pick<VerifyInput, 'headers' | 'hints' | 'protocol'>,
  hints: Pick<NetworkHints, 'l3' | 'l4' | 'l7'>,
  opts: Pick<CompiledOptions, 'trust' | 'protoHeader'>,
): RequestScheme {
  const { l3 } = hints;
  const l3Trusted = l3 !== undefined && opts.trust.contains(l3);
  const proxyTls = l3Trusted ? ownHint(input.hints, 'proxyTls') : undefined;
  if (proxyTls !== undefined) return proxyTls ? PROXY_HTTPS : PROXY_HTTP;

  const reader = opts.protoHeader;
  // the immediate peer (PROTOCOL.md §4.3): an l4 the glue gave that is no address is not trusted,
  // and does not hand the role back to l3 (collectHints reads no forwarding header for it either)
  const peer = hints.l4 ?? (ownHint(input.hints, 'l4') === undefined ? l3 : undefined);
  if (reader !== undefined && peer !== undefined && (peer === l3 ? l3Trusted : opts.trust.contains(peer))) {
    const values = headerInstances(input.headers as Record<string, string | string[] | undefined>, reader.headerName);
    if (values.length > 0) {
      // the immediate peer wrote one; so did every trusted proxy it names at the right end
      let writers = 1;
      for (let i = hints.l7.length - 1; i >= 0; i--) {
        const address = hints.l7[i];
        if (address === null || address === undefined || !opts.trust.contains(address)) break;
        writers++;
      }
      const scheme = forwardedScheme(reader(values), writers);
      if (scheme !== undefined) return scheme === 'https' ? HEADER_HTTPS : HEADER_HTTP;
    }
  }

  const tls = ownHint(input.hints, 'tls') ?? input.protocol === 'https';
  return tls ? CONNECTION_HTTPS : CONNECTION_HTTP;
}
