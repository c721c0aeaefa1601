// Many stamped requests through the client SDK to one node:http server with ipstamp/node, run
// as its own process for test/lifecycle/leaks.test.ts (node --expose-gc long-use.mjs FIRST TOTAL):
// the heap after FIRST requests and after TOTAL, each after forced collections, so that the test
// compares the two. Every tenth request of a kind: 6 accepted, 1 replayed (the same stamp to the
// same URL), 1 under a key the server does not know, 1 aborted once sent, 1 connection reset
// inside its body. Prints one JSON line. Loads the built package (`ipstamp/node`, `ipstamp/client/node`).
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { ipstamp, trackPeerAddresses } from 'ipstamp/node';
import { createStampedFetch, generateStampKey } from 'ipstamp/client/node';

const [first, total] = process.argv.slice(2).map(Number);
const key = await generateStampKey({ alg: 'EdDSA' });
const stranger = await generateStampKey({ alg: 'EdDSA' });
const middleware = ipstamp({ keys: { keys: [{ ...key.publicJwk, kid: key.kid, alg: 'EdDSA' }] } });
const server = trackPeerAddresses(createServer((req, res) => middleware(req, res, () => res.end('ok'))));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const origin = `http://127.0.0.1:${port}`;

/** The last stamped request sent, for the replaying client to send again. */
let last;
const stamped = createStampedFetch({
  key,
  ip: 'echo',
  fetch: (input, init) => {
    const stamp = new Headers(init?.headers).get('client-ip-attestation');
    if (stamp !== null) last = { input, stamp };
    return fetch(input, init);
  },
});
const replaying = createStampedFetch({
  key,
  ip: 'echo',
  fetch: (input, init) => {
    if (String(input).endsWith('/.well-known/ipstamp') || last === undefined) return fetch(input, init);
    const headers = new Headers(init?.headers);
    headers.set('client-ip-attestation', last.stamp);
    return fetch(last.input, { ...init, headers });
  },
});
const unknown = createStampedFetch({ key: stranger, ip: 'echo' });
const aborting = createStampedFetch({
  key,
  ip: 'echo',
  fetch: (input, init) => {
    const controller = new AbortController();
    const sent = fetch(input, { ...init, signal: controller.signal });
    if (!String(input).endsWith('/.well-known/ipstamp')) setImmediate(() => controller.abort());
    return sent;
  },
});
const resetInBody = () =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.on('close', resolve);
    const head = `POST /b HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: 1000\r\nclient-ip-attestation: x.y.z\r\n\r\n`;
    socket.on('connect', () => socket.write(`${head}${'b'.repeat(100)}`, () => socket.resetAndDestroy()));
  });

const counts = {};
const note = (outcome) => (counts[outcome] = (counts[outcome] ?? 0) + 1);
const answered = async (response) => {
  note(response.status);
  await response.arrayBuffer();
};
async function one(i) {
  try {
    const kind = i % 10;
    if (kind === 6) return await answered(await replaying(`${origin}/a`));
    if (kind === 7) return await answered(await unknown(`${origin}/u${i}`));
    if (kind === 8) return await answered(await aborting(`${origin}/x${i}`, { method: 'POST', body: 'x'.repeat(1000) }));
    if (kind === 9) {
      await resetInBody();
      return note('reset');
    }
    return await answered(await stamped(`${origin}/a${i}`));
  } catch (error) {
    note(error.name);
  }
}
async function run(from, to) {
  let next = from;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < to) await one(next++);
    }),
  );
}
async function heap() {
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
  }
  return process.memoryUsage().heapUsed;
}

await run(0, first);
const heapAtFirst = await heap();
await run(first, total);
const heapAtTotal = await heap();
server.closeAllConnections();
server.close();
process.stdout.write(`${JSON.stringify({ counts, heapAtFirst, heapAtTotal })}\n`);
