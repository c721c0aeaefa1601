/**
 * Compiled by test/package/types.test.ts against the BUILT package. `StampedFetchOptions` is a
 * union on `ip`: what only one mode reads does not type-check with another. Each
 * @ts-expect-error line must fail to compile — if it ever compiles, tsc reports the unused
 * directive and the test fails.
 */
import {
  createStampedFetch,
  generateStampKey,
  staticAddress,
  echoAddressPerOrigin,
  type StampedFetchOptions,
  type StampKeyInput,
  type TicketKey,
} from 'ipstamp/client';
import { createStampedFetch as createNodeStampedFetch, type NodeStampedFetchOptions } from 'ipstamp/client/node';

declare const hmac: StampKeyInput;
declare const ticketKey: TicketKey;
const browserKey = await generateStampKey();
declare const fromConfig: string;

// Valid: one line per mode.
createStampedFetch({ key: hmac, ip: '203.0.113.7' });
createStampedFetch({ key: hmac, ip: '2001:db8::7', bodyDigest: true });
createStampedFetch({ key: hmac, ip: staticAddress(fromConfig) });
createStampedFetch({ key: hmac, ip: echoAddressPerOrigin() });
createStampedFetch({ key: hmac, ip: 'echo' });
createStampedFetch({ key: hmac, ip: 'echo', echoUrl: 'https://api.example.com/.well-known/ipstamp', echoTtlMs: 60_000 });
createStampedFetch({ key: ticketKey, ip: 'ticket', issuer: 'https://edge.example.com' });
createStampedFetch({ key: browserKey, ip: 'ticket', issuer: new URL('https://edge.example.com') });
createStampedFetch({ key: browserKey, ip: 'echo' }); // a generated key is a StampKeyInput too
createNodeStampedFetch({ key: hmac, ip: 'socket', localAddress: '127.0.0.2', socketTtlMs: 1000 });
createNodeStampedFetch({ key: hmac, ip: 'echo', echoTtlMs: 1000 });
createNodeStampedFetch({ key: ticketKey, ip: 'ticket', issuer: 'https://edge.example.com' });

// @ts-expect-error ip: 'ticket' needs its issuer
createStampedFetch({ key: ticketKey, ip: 'ticket' });
// @ts-expect-error issuer goes with ip: 'ticket' only
createStampedFetch({ key: hmac, ip: 'echo', issuer: 'https://edge.example.com' });
// @ts-expect-error issuer goes with ip: 'ticket' only
createStampedFetch({ key: hmac, ip: '203.0.113.7', issuer: 'https://edge.example.com' });
// @ts-expect-error echoUrl goes with ip: 'echo' only
createStampedFetch({ key: hmac, ip: '203.0.113.7', echoUrl: 'https://api.example.com/.well-known/ipstamp' });
// @ts-expect-error echoTtlMs goes with ip: 'echo' only
createStampedFetch({ key: ticketKey, ip: 'ticket', issuer: 'https://edge.example.com', echoTtlMs: 1000 });
// @ts-expect-error a ticket needs an asymmetric key with its publicJwk, not a secret
createStampedFetch({ key: hmac, ip: 'ticket', issuer: 'https://edge.example.com' });
// @ts-expect-error a string from configuration could be 'echo' or 'ticket': wrap it in staticAddress()
createStampedFetch({ key: hmac, ip: fromConfig });
// @ts-expect-error 'socket' needs a TCP connection: ipstamp/client/node
createStampedFetch({ key: hmac, ip: 'socket' });
// @ts-expect-error not an address, not a mode
createStampedFetch({ key: hmac, ip: 'echo-please' });
// @ts-expect-error localAddress goes with ip: 'socket' only
createNodeStampedFetch({ key: hmac, ip: 'echo', localAddress: '127.0.0.2' });
// @ts-expect-error socketTtlMs goes with ip: 'socket' only
createNodeStampedFetch({ key: hmac, ip: '203.0.113.7', socketTtlMs: 1000 });
// @ts-expect-error issuer goes with ip: 'ticket' only
createNodeStampedFetch({ key: hmac, ip: 'socket', issuer: 'https://edge.example.com' });

// The union narrows on ip.
function issuerOf(options: StampedFetchOptions): string | URL | undefined {
  if (options.ip === 'ticket') {
    const issuer: string | URL = options.issuer;
    return issuer;
  }
  return options.issuer;
}
function socketSettings(options: NodeStampedFetchOptions): number | undefined {
  return options.ip === 'socket' ? options.socketTtlMs : undefined;
}
void [issuerOf, socketSettings];
