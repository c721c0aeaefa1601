// ipstamp objects used and never closed, run as its own process for test/lifecycle/leaks.test.ts:
// a node:http server with ipstamp/node (keys from createRemoteKeySet, tickets issued and
// verified by URL), stamped fetches in echo, socket and ticket modes, one call aborted and one
// in flight when the server closes. Only the server is closed. Prints one JSON line: what was
// answered, and the active resources (what keeps a process alive) beyond those at the start —
// a fresh process, so nothing but this script's own. Loads the built package.
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { createRemoteKeySet } from 'ipstamp/server';
import { ipstamp, trackPeerAddresses } from 'ipstamp/node';
import { createStampedFetch, generateStampKey } from 'ipstamp/client/node';

function resources() {
  const counts = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};
const until = async (check) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
};

await settle();
const baseline = resources();
const stampKey = await generateStampKey({ alg: 'EdDSA' });
const ticketKey = await generateStampKey({ alg: 'ES256' });
const issuerPair = await generateKeyPair('EdDSA', { extractable: true });
const issuerKey = { ...(await exportJWK(issuerPair.privateKey)), kid: 'edge', alg: 'EdDSA' };
const hanging = [];
let middleware;
const server = trackPeerAddresses(
  createServer((req, res) => {
    if (req.url === '/stamp-jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...stampKey.publicJwk, kid: stampKey.kid, alg: 'EdDSA' }] }));
      return;
    }
    middleware(req, res, () => {
      // never answered: the calls in flight when the client aborts, or the server closes
      if (req.url.startsWith('/hang')) hanging.push(res);
      else res.end('ok');
    });
  }),
);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const remote = createRemoteKeySet(`${origin}/stamp-jwks`, { cooldownMs: 0 });
middleware = ipstamp({ keys: remote.lookup, issuers: { [origin]: `${origin}/.well-known/ipstamp/issuer-jwks` }, issuer: { key: issuerKey, origin } });

const echo = createStampedFetch({ key: stampKey, ip: 'echo' });
const socket = createStampedFetch({ key: stampKey, ip: 'socket' });
const ticket = createStampedFetch({ key: ticketKey, ip: 'ticket', issuer: origin });
const statuses = [];
for (const stamped of [echo, socket, ticket, echo, socket, ticket]) {
  const response = await stamped(`${origin}/orders`);
  statuses.push(response.status);
  await response.arrayBuffer();
}
const outcome = (call) =>
  call.then(
    () => 'answered',
    (error) => error.name,
  );
const controller = new AbortController();
const aborted = outcome(echo(`${origin}/hang/aborted`, { signal: controller.signal }));
await until(() => hanging.length === 1);
controller.abort();
const inFlight = outcome(ticket(`${origin}/hang/at-close`));
await until(() => hanging.length === 2);

server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));
const calls = { aborted: await aborted, inFlight: await inFlight };
function beyondBaseline() {
  const extra = {};
  for (const [kind, count] of Object.entries(resources())) if (count > (baseline[kind] ?? 0)) extra[kind] = count - (baseline[kind] ?? 0);
  return extra;
}
// the client sees the sockets the server closed a few turns later; the give-up only ends a wait
// for what never goes, and what is left then is the answer
let left = beyondBaseline();
for (const giveUp = performance.now() + 2000; Object.keys(left).length > 0 && performance.now() < giveUp; left = beyondBaseline()) {
  await settle();
}
process.stdout.write(`${JSON.stringify({ statuses, calls, left })}\n`);
