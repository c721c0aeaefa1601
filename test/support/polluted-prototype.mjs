/**
 * Run by test/verify/hostile-options.test.ts in a child process, never in a vitest worker:
 * it writes onto Object.prototype, as a prototype-pollution bug elsewhere in an application
 * would, and then asks the built package (dist/) what it makes of that. Prints one JSON object:
 * `setup` — each factory's answer with one option inherited from the polluted prototype;
 * `verify` — a live verifier's answers to requests while a hint or header is polluted.
 */
import { generateKeyPairSync, sign } from 'node:crypto';

const dist = new URL('../../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const server = await load('server/index.js');
const { createWebVerifier } = await load('server/web/index.js');
const node = await load('server/node/index.js');
const hono = await load('server/hono/index.js');
const fastifyPlugin = (await load('server/fastify/index.js')).default;
const { default: Fastify } = await import('fastify');

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const clientJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'client-1', alg: 'ES256' };
const issuerJwk = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'issuer-1', alg: 'EdDSA' };
const keys = { keys: [clientJwk] };
const everything = { insertIfAbsent: () => true };

/** What a factory answers: `created`, or its error as `TypeError: message`. */
async function answer(make) {
  try {
    const made = await make();
    made?.close?.();
    return 'created';
  } catch (error) {
    return `${error.constructor.name}: ${error.message}`;
  }
}

const FACTORIES = {
  createVerifier: () => server.createVerifier({ keys }),
  createWebVerifier: () => createWebVerifier({ keys }),
  'ipstamp/node': () => node.ipstamp({ keys }),
  'ipstamp/hono': () => hono.ipstamp({ keys }),
  'ipstamp/fastify': async () => {
    const app = Fastify();
    try {
      await app.register(fastifyPlugin, { keys }).ready();
    } finally {
      await app.close();
    }
  },
  createTicketIssuer: () => server.createTicketIssuer({ key: issuerJwk, replayStore: new server.MemoryReplayStore() }),
  MemoryReplayStore: () => new server.MemoryReplayStore({}),
  createProxyProtocolServer: () => server.createProxyProtocolServer(undefined, { trustedProxies: ['192.0.2.1'] }),
  rateLimitKey: () => server.rateLimitKey({ ip: '2001:db8::1' }, {}),
};

/** [factory, option, the value a polluter writes]: each a default that value would loosen. */
const SETUP = [
  ['createVerifier', 'onMismatch', 'flag'],
  ['createVerifier', 'onUnverifiable', 'accept'],
  ['createVerifier', 'onStoreError', 'accept'],
  ['createVerifier', 'trustedProxies', ['0.0.0.0/0']],
  ['createVerifier', 'maxAge', 86_400],
  ['createVerifier', 'skew', 86_400],
  ['createVerifier', 'origins', ['https://evil.example']],
  ['createVerifier', 'issuers', { 'https://evil.example': { keys: [] } }],
  ['createVerifier', 'replayStore', everything],
  ['createVerifier', 'now', () => 0],
  ['createWebVerifier', 'onMismatch', 'flag'],
  ['ipstamp/node', 'required', false],
  ['ipstamp/hono', 'required', false],
  ['ipstamp/fastify', 'required', false],
  ['ipstamp/fastify', 'onUnverifiable', 'accept'],
  ['ipstamp/node', 'reportOnly', true],
  ['ipstamp/hono', 'reportOnly', true],
  ['ipstamp/fastify', 'reportOnly', true],
  ['createTicketIssuer', 'lifetime', 3600],
  ['createTicketIssuer', 'trustedProxies', ['0.0.0.0/0']],
  ['MemoryReplayStore', 'maxEntries', 1],
  ['createProxyProtocolServer', 'proxyProtocol', 'optional'],
  ['rateLimitKey', 'ipv6Prefix', 128],
];

const setup = {};
for (const [factory, option, value] of SETUP) {
  Object.prototype[option] = value;
  try {
    setup[`${factory} ${option}`] = await answer(FACTORIES[factory]);
  } finally {
    delete Object.prototype[option];
  }
}

// A verifier behind one trusted proxy (192.0.2.1), created before anything is polluted.
const NOW = 1_764_000_000;
const verifier = server.createVerifier({ keys, now: () => NOW * 1000, trustedProxies: ['192.0.2.1'] });
let n = 0;
function stampFor(ip, htu = 'https://api.example.com/a') {
  const segment = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { ip, iat: NOW, jti: `polluted-${String(++n).padStart(20, '0')}`, htm: 'GET', htu };
  const input = `${segment({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'client-1' })}.${segment(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}
/** A request from the trusted proxy that names no client (no PROXY header, no X-Forwarded-For), stamped for `ip` or not at all. */
const fromProxy = (ip) => ({
  method: 'GET',
  url: '/a',
  protocol: 'https',
  headers: ip === undefined ? { host: 'api.example.com' } : { host: 'api.example.com', 'client-ip-attestation': stampFor(ip) },
  hints: { l3: '192.0.2.1' },
});
const outcome = (result) => (!result.ok ? result.reason : result.verdict === null ? 'accepted without a stamp' : `accepted as ${result.verdict.ip}`);

/** [what is polluted, its value, the request]: a stamp for the polluter's address, or no stamp. */
const VERIFY = [
  ['l4', '198.51.100.7', () => fromProxy('198.51.100.7')],
  ['x-forwarded-for', '198.51.100.7', () => fromProxy('198.51.100.7')],
  ['required', false, () => fromProxy(undefined)],
];
const verify = { unpolluted: outcome(await verifier.verify(fromProxy('198.51.100.7'))) };
for (const [name, value, request] of VERIFY) {
  Object.prototype[name] = value;
  try {
    verify[name] = outcome(await verifier.verify(request()));
  } finally {
    delete Object.prototype[name];
  }
}

/** [what is polluted, its value]: the scheme of a plain-http request from the trusted proxy, for step 9's origin. */
const plainHttp = { headers: { host: 'api.example.com' }, hints: { l3: '192.0.2.1' }, protocol: 'http' };
const scheme = { unpolluted: verifier.scheme(plainHttp).scheme };
for (const [name, value] of [
  ['tls', true],
  ['proxyTls', true],
]) {
  Object.prototype[name] = value;
  try {
    scheme[name] = verifier.scheme(plainHttp).scheme;
  } finally {
    delete Object.prototype[name];
  }
}

// A Fastify app made before anything is polluted, stamps optional but on /login: the plugin reads
// each route's config.ipstamp on every request, long after its options were checked.
const app = Fastify();
await app.register(fastifyPlugin, { keys, required: false, now: () => NOW * 1000 });
app.get('/login', { config: { ipstamp: { required: true } } }, async () => 'served');
app.get('/orders', async () => 'served');
await app.ready();
/** GET `path` of api.example.com from 127.0.0.1, with a stamp for `ip` or none: `status reason`, or `200 served`. */
async function routeAnswer(path, ip) {
  const headers = { host: 'api.example.com' };
  if (ip !== undefined) headers['client-ip-attestation'] = stampFor(ip, `http://api.example.com${path}`);
  const response = await app.inject({ method: 'GET', url: path, headers });
  return `${response.statusCode} ${response.statusCode === 200 ? response.body : response.json().reason}`;
}
/** A stampless request to the route that requires one, and a stamp the network contradicts on an optional one. */
const routeAnswers = async () => ({ login: await routeAnswer('/login'), orders: await routeAnswer('/orders', '198.51.100.7') });
const route = { unpolluted: await routeAnswers() };
for (const [name, value] of [
  ['reportOnly', true],
  ['ipstamp', false],
  ['required', false],
]) {
  Object.prototype[name] = value;
  try {
    route[name] = await routeAnswers();
  } finally {
    delete Object.prototype[name];
  }
}
await app.close();

process.stdout.write(JSON.stringify({ setup, verify, scheme, route }));
