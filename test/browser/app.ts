import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ipstamp } from '../../server/fastify/plugin.js';
import { createKeyRegistry, type KeyRegistry, isKeyRegistryFullError } from '../../server/registry/key-registry.js';

/** The page the tests drive: it loads the bundle and hands it to the test as `window.ipstamp`. */
export const PAGE = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>loading</title>
<script type="module">
  import * as ipstamp from '/ipstamp.js';
  window.ipstamp = ipstamp;
  document.title = 'ready';
</script>`;

export interface BrowserTestApp {
  readonly origin: string;
  readonly registry: KeyRegistry;
  close(): Promise<void>;
}

const open = { config: { ipstamp: false as const } };

function verdictOf(request: FastifyRequest) {
  const verdict = request.ipStamp;
  if (verdict === null) return null;
  const { ip, agreement, kid, hints } = verdict;
  return { ip, agreement, kid, observed: hints.observed, l3: hints.l3 };
}

/**
 * The app a browser test talks to: the Fastify plugin with a key registry as its key source,
 * a body digest required on every stamp, `/register` for the page's public key, and two
 * stamped routes that answer with the verdict.
 */
export async function startBrowserTestApp(bundle: string): Promise<BrowserTestApp> {
  const registry = createKeyRegistry({ maxKeys: 100 });
  const app: FastifyInstance = Fastify({ logger: false });
  await app.register(ipstamp, { keys: registry.lookup, requireBodyDigest: true });

  app.get('/', open, async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.get('/ipstamp.js', open, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(bundle));
  app.post('/register', open, async (request, reply) => {
    try {
      const { kid } = registry.registerKey((request.body as { jwk?: unknown } | null)?.jwk);
      return reply.code(201).send({ kid });
    } catch (error) {
      if (isKeyRegistryFullError(error)) return reply.code(503).send({ error: error.code });
      if (error instanceof TypeError) return reply.code(400).send({ error: 'invalid key' });
      throw error;
    }
  });
  app.get('/whoami', async (request) => ({ verdict: verdictOf(request) }));
  app.post('/orders', async (request) => ({ verdict: verdictOf(request), body: request.body }));

  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, registry, close: () => app.close() };
}
