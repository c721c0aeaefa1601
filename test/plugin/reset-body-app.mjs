// A Fastify app with the plugin, run as its own process for test/plugin/unknown-body.test.ts:
// keys looked up asynchronously (a key database, 200 ms), a streaming parser, an open /health.
// Prints one JSON line `{ "port": N }` once listening. Loads the built package (`ipstamp/fastify`).
import Fastify from 'fastify';
import ipstamp from 'ipstamp/fastify';

const jwk = JSON.parse(process.argv[2]);
const app = Fastify();
const later = (value) => new Promise((resolve) => setTimeout(() => resolve(value), 200));
await app.register(ipstamp, { keys: (kid) => later(kid === jwk.kid ? jwk : undefined) });
app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
app.get('/g', async () => 'ok');
app.post('/stream', async () => 'ok');
app.get('/health', { config: { ipstamp: false } }, async () => 'ok');
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
