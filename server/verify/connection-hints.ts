import { l4AddressOf } from '../hints/proxy-header.js';
import { isEncrypted, peerAddressOf } from '../hints/peer-address.js';
import { proxyHeaderOf } from '../hints/proxy-connection.js';
import type { ConnectionHints } from './types.js';

/** The accepted socket (`req.socket`); named through the hints layer, so this layer loads no `node:` module. */
type ConnectionSocket = Parameters<typeof peerAddressOf>[0];

/** PP2_CLIENT_SSL: the client connected to the proxy over TLS. */
const PP2_CLIENT_SSL = 0x01;

/**
 * What the connection tells about the client: the TCP peer (l3), whether the connection is
 * TLS, and, when it came through the PROXY protocol layer, the header's source (l4), what its
 * SSL TLV says of the client's connection, and a loggable summary — never raw TLV bytes. The
 * verifier decides what counts (l4 and the TLV only from a trusted peer).
 *
 * The PROXY header was taken off when the connection was accepted, and `encrypted` is set when
 * a TLSSocket is made (for an HTTP/2 stream's stand-in socket, recorded from its session at
 * accept: peer-address.ts): neither is read from a socket that may be gone by now.
 */
export function connectionHints(socket: ConnectionSocket): ConnectionHints {
  const l3 = peerAddressOf(socket);
  const tls = isEncrypted(socket);
  const header = proxyHeaderOf(socket);
  if (header === undefined) return { l3, tls };
  const proxy: Record<string, unknown> = { version: header.version, command: header.command, family: header.family };
  if (header.destination) proxy.destination = header.destination.address;
  if (header.tlvs.uniqueId !== undefined) proxy.uniqueId = header.tlvs.uniqueId;
  if (header.tlvs.authority !== undefined) proxy.authority = header.tlvs.authority;
  const { ssl } = header.tlvs;
  if (ssl === undefined) return { l3, tls, l4: l4AddressOf(header), proxy };
  const proxyTls = (ssl.client & PP2_CLIENT_SSL) !== 0;
  proxy.ssl = ssl.version === undefined ? { client: ssl.client } : { client: ssl.client, version: ssl.version };
  return { l3, tls, l4: l4AddressOf(header), proxy, proxyTls };
}
