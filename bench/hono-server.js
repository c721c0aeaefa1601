/**
 * One Hono benchmark server on @hono/node-server, forked by bench/hono.js and pinned to its
 * own core: `GET /orders` bare, or behind ipstamp/hono (HS256, memory store) as a middleware or
 * in its handler form, or behind a no-op middleware (the control). It reports its
 * own CPU time over the window the parent asks about (IPC 'cpu-start' / 'cpu-stop').
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { serveBenchParent } from './processes.js';

const [variant, keysJson] = process.argv.slice(2);
const keys = JSON.parse(keysJson);

const app = new Hono();
if (variant === 'hono-ipstamp-hs256-memory' || variant === 'hono-ipstamp-hs256-memory-handler') {
  const { ipstamp } = await import('../dist/server/hono/index.js');
  const { trackPeerAddresses } = await import('../dist/server/index.js');
  const stamp = ipstamp({ keys: { keys: [keys.hs256] }, maxAge: 600, echo: false });
  const handler = (c) => c.json({ ip: c.get('ipStamp').ip });
  // the handler form (`stamp.handler(fn)`) leaves the route one handler, and Hono its
  // one-handler fast path; the middleware puts it through Hono's middleware dispatch
  if (variant.endsWith('-handler')) app.get('/orders', stamp.handler(handler));
  else app.use(stamp).get('/orders', handler);
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  trackPeerAddresses(server);
  await listening(server);
} else if (variant === 'hono-noop-middleware') {
  // the control: one middleware that does nothing but call next()
  app.use((c, next) => next());
  app.get('/orders', (c) => c.json({ ok: true }));
  await listening(serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }));
} else {
  app.get('/orders', (c) => c.json({ ok: true }));
  await listening(serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }));
}

async function listening(server) {
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  serveBenchParent(server.address().port, () => new Promise((done) => (server.close(done), server.closeAllConnections?.())));
}
