/**
 * Network-hint parsers: ns per header for a PROXY v2 header (the HAProxy capture with CRC32C
 * and unique-id TLVs), and the X-Forwarded-For / Forwarded walk of a three-hop chain.
 */
import { parseProxyHeader } from '../dist/server/hints/proxy-protocol.js';
import { collectHints } from '../dist/server/hints/collect.js';
import { forwardingHeaderReader } from '../dist/server/hints/forwarding-header.js';
import { compileTrust } from '../dist/server/hints/trust.js';
import { median } from './measure.js';

// HAProxy 2.6 send-proxy-v2 with unique-id,authority,crc32c (../shared/vectors)
const PROXY_V2 = Buffer.from('0d0a0d0a000d0a515549540a211100167f0000057f000001c6b0238e0300046ad0039f050000', 'hex');

function nsPerOp(fn, count) {
  for (let i = 0; i < 10_000; i++) fn();
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) fn();
    runs.push(Number(process.hrtime.bigint() - start) / count);
  }
  return median(runs);
}

export function measureParsers({ quick = false } = {}) {
  const count = quick ? 50_000 : 300_000;
  const trust = compileTrust(['10.0.0.0/8', 'loopback']);
  const xff = forwardingHeaderReader('x-forwarded-for');
  const forwarded = forwardingHeaderReader('forwarded');
  const xffValue = ['203.0.113.9, 198.51.100.20, 10.0.0.7'];
  const forwardedValue = ['for=203.0.113.9;proto=https, for="[2001:db8::1]:443", for=10.0.0.7'];
  return {
    proxyV2ParseNs: nsPerOp(() => parseProxyHeader(PROXY_V2), count),
    xffWalkNs: nsPerOp(() => collectHints({ l3: '::ffff:10.0.0.1', headerValues: xffValue, trust, forwardedHeader: xff }), count),
    forwardedWalkNs: nsPerOp(() => collectHints({ l3: '::ffff:10.0.0.1', headerValues: forwardedValue, trust, forwardedHeader: forwarded }), count),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(measureParsers({ quick: process.argv.includes('--quick') }));
