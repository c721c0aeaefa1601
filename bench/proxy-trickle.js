/**
 * A measurement, not a test and not part of `npm run bench` (results.json is untouched):
 * N connections from a trusted loopback peer each trickle a PROXY v2 header that declares the
 * spec's maximum (16 + 65,535 bytes) so slowly that it cannot finish before the header timeout.
 * The server runs in its own process, so its memory is its own; it samples
 * process.memoryUsage() and reports the peaks. Every connection must be closed by the timeout.
 *
 *   npm run build && node --expose-gc bench/proxy-trickle.js [--connections 500] [--timeout-ms 3000]
 *        [--piece 2048] [--gap-ms 100]
 *
 * With the defaults a connection has sent ~60 KiB when its timeout fires: the worst case for
 * memory, since the parser holds every byte of a header it was promised.
 */
import { fork } from 'node:child_process';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const DECLARED = 0xffff;
const TOTAL = 16 + DECLARED;

if (process.argv[2] === '--server') await serve(Number(process.argv[3]));
else await measure();

async function serve(timeoutMs) {
  const { createProxyProtocolServer } = await import('../dist/server/hints/proxy-connection.js');
  const reasons = {};
  const server = createProxyProtocolServer((req, res) => res.end('served'), {
    trustedProxies: ['127.0.0.1'],
    timeoutMs,
    onReject: (event) => (reasons[event.reason] = (reasons[event.reason] ?? 0) + 1),
  });
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], m[key]);
  };
  globalThis.gc?.();
  const baseline = process.memoryUsage();
  const sampler = setInterval(sample, 20);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (message) => {
    if (message !== 'report') return;
    sample();
    clearInterval(sampler);
    globalThis.gc?.();
    const after = process.memoryUsage();
    server.getConnections((_, open) => {
      process.send({ baseline, peak, after, reasons, open });
      server.close(() => process.exit(0));
    });
  });
}

function header() {
  const bytes = Buffer.alloc(TOTAL);
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(bytes, 0);
  bytes[12] = 0x21; // v2, PROXY
  bytes[13] = 0x11; // TCP over IPv4
  bytes.writeUInt16BE(DECLARED, 14);
  bytes.set([192, 0, 2, 10, 127, 0, 0, 1], 16); // source in a documentation range
  bytes.writeUInt16BE(40000, 24);
  bytes.writeUInt16BE(80, 26);
  bytes[28] = 0x04; // one NOOP TLV fills the rest
  bytes.writeUInt16BE(TOTAL - 28 - 3, 29);
  return bytes;
}

function trickle(port, bytes, { piece, gapMs }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', noDelay: true });
    let sent = 0;
    let timer;
    const next = () => {
      if (socket.destroyed) return;
      socket.write(bytes.subarray(sent, sent + piece));
      sent = Math.min(bytes.length, sent + piece);
      if (sent < bytes.length) timer = setTimeout(next, gapMs);
    };
    socket.on('connect', next);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ sent, complete: sent === bytes.length, closedAfterMs: performance.now() - started });
    });
  });
}

async function measure() {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '500' },
      'timeout-ms': { type: 'string', default: '3000' },
      piece: { type: 'string', default: '2048' },
      'gap-ms': { type: 'string', default: '100' },
    },
  });
  const connections = Number(values.connections);
  const timeoutMs = Number(values['timeout-ms']);
  const piece = Number(values.piece);
  const gapMs = Number(values['gap-ms']);
  const child = fork(new URL(import.meta.url), ['--server', String(timeoutMs)], { execArgv: ['--expose-gc'] });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  const bytes = header();
  const results = await Promise.all(Array.from({ length: connections }, () => trickle(port, bytes, { piece, gapMs })));
  child.send('report');
  const report = await new Promise((resolve) => child.once('message', resolve));
  await new Promise((resolve) => child.once('exit', resolve));

  const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const closed = results.map((r) => r.closedAfterMs).sort((a, b) => a - b);
  const sent = results.map((r) => r.sent).sort((a, b) => a - b);
  const growth = report.peak.rss - report.baseline.rss;
  console.log(
    `PROXY v2 trickle: ${connections} connections, each a ${TOTAL}-byte header in ${piece}-byte pieces every ${gapMs} ms; server timeout ${timeoutMs} ms; node ${process.version}`,
  );
  console.log(`  closed by the server: ${results.length}/${connections}; complete headers sent: ${results.filter((r) => r.complete).length}`);
  console.log(`  server reject reasons: ${JSON.stringify(report.reasons)}; connections still open at the end: ${report.open}`);
  console.log(`  bytes sent per connection before the close: min ${sent[0]}, median ${sent[sent.length >> 1]}, max ${sent.at(-1)}`);
  console.log(
    `  closed after (ms, from connect): min ${closed[0].toFixed(0)}, median ${closed[closed.length >> 1].toFixed(0)}, max ${closed.at(-1).toFixed(0)}`,
  );
  for (const key of ['rss', 'heapUsed', 'external', 'arrayBuffers']) {
    console.log(
      `  server ${key.padEnd(12)} baseline ${mib(report.baseline[key]).padStart(9)}  peak ${mib(report.peak[key]).padStart(9)}  after gc ${mib(report.after[key]).padStart(9)}`,
    );
  }
  console.log(`  peak RSS growth per connection: ${(growth / connections / 1024).toFixed(1)} KiB (the header alone: ${(TOTAL / 1024).toFixed(1)} KiB)`);
}
