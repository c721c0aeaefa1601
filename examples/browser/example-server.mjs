// The browser example's server: a Fastify app with the ipstamp plugin, its keys in a key registry.
// A page generates a non-extractable key, "logs in" by registering its public JWK, and every API
// call it makes carries a stamp the plugin verifies. Imports the built package (`npm run build`).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
export const DEFAULT_BUNDLE = resolve(root, 'dist/browser/ipstamp.js');
const SERVER_ENTRY = resolve(root, 'dist/server/index.js');
const FASTIFY_ENTRY = resolve(root, 'dist/server/fastify/index.js');

/** How long a login lasts: the registry forgets the key after this (seconds). */
const LOGIN_TTL = 3600;
const open = { config: { ipstamp: false } };

function verdictOf(request) {
  const { ip, agreement, kid, hints } = request.ipStamp;
  return { ip, agreement, kid, observed: hints.observed ?? null };
}

/**
 * Starts the example on `host:port` (port 0: any free port). Resolves to `{ url, close }`.
 * `bundleFile` is the browser bundle to serve (default: dist/browser/ipstamp.js).
 * @param {{ host?: string, port?: number, bundleFile?: string, logger?: boolean }} [options]
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export async function startExampleServer({ host = '127.0.0.1', port = 8787, bundleFile = DEFAULT_BUNDLE, logger = false } = {}) {
  for (const file of [SERVER_ENTRY, FASTIFY_ENTRY, bundleFile]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
  const { createKeyRegistry, isKeyRegistryFullError } = await import(SERVER_ENTRY);
  const { ipstamp } = await import(FASTIFY_ENTRY);
  const assets = {
    '/': ['text/html; charset=utf-8', readFileSync(resolve(here, 'index.html'))],
    '/app.js': ['text/javascript; charset=utf-8', readFileSync(resolve(here, 'app.js'))],
    '/ipstamp.js': ['text/javascript; charset=utf-8', readFileSync(bundleFile)],
  };

  const registry = createKeyRegistry({ maxKeys: 1000 });
  const app = Fastify({ logger });
  await app.register(ipstamp, { keys: registry.lookup });

  for (const [path, [type, body]] of Object.entries(assets)) {
    app.get(path, open, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(body));
  }

  // "Log in": a real app would first check a password or a session, then bind the kid to that
  // user. The registry only learns the public key; the private key never leaves the browser.
  app.post('/login', open, async (request, reply) => {
    try {
      const { kid, expiresAt } = registry.registerKey(request.body?.jwk, { ttl: LOGIN_TTL });
      return reply.code(201).send({ kid, expiresAt });
    } catch (error) {
      if (isKeyRegistryFullError(error)) return reply.code(503).send({ error: 'too many keys registered' });
      if (error instanceof TypeError) return reply.code(400).send({ error: 'not a public P-256 or Ed25519 JWK' });
      throw error;
    }
  });

  // Stamped, so only the holder of the key can log it out (its kid alone is public).
  app.post('/logout', async (request) => ({ loggedOut: registry.unregisterKey(request.ipStamp.kid) }));
  app.get('/api/hello', async (request) => ({ hello: 'world', verdict: verdictOf(request) }));
  app.post('/api/orders', async (request) => ({ order: request.body ?? null, verdict: verdictOf(request) }));

  await app.listen({ host, port });
  const address = app.server.address();
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${shownHost}:${address.port}/`, close: () => app.close() };
}
