import type { Socket } from 'node:net';
import { l4AddressOf } from '../hints/proxy-header.js';
import { peerAddressOf } from '../hints/peer-address.js';
import { proxyHeaderOf } from '../hints/proxy-connection.js';
import type { ConnectionHints } from '../verify/types.js';

/**
 * What the connection tells about the client: the TCP peer (l3) and, when the connection
 * came through the PROXY protocol layer, the header's source (l4) and a loggable summary —
 * never raw TLV bytes. The verifier decides whether l4 counts (only from a trusted peer).
 */
export function connectionHints(socket: Socket | null | undefined): ConnectionHints {
  const l3 = peerAddressOf(socket);
  const header = proxyHeaderOf(socket);
  if (header === undefined) return { l3 };
  const proxy: Record<string, unknown> = { version: header.version, command: header.command, family: header.family };
  if (header.destination) proxy.destination = header.destination.address;
  if (header.tlvs.uniqueId !== undefined) proxy.uniqueId = header.tlvs.uniqueId;
  if (header.tlvs.authority !== undefined) proxy.authority = header.tlvs.authority;
  return { l3, l4: l4AddressOf(header), proxy };
}
