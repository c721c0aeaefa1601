// A Hono app on @hono/node-server with ipstamp/hono, run as its own process by the tests.
// argv[2]: JSON { keys, trustedProxies?, proxyProtocol?, issuer?, required? }. Prints {"port":N} once listening.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { ipstamp } from 'ipstamp/hono';
import { createProxyProtocolServer, trackPeerAddresses } from 'ipstamp/server';

const config = JSON.parse(process.argv[2] ?? '{}');
const counts = { accepted: 0, refused: 0, unstamped: 0 };
const app = new Hono();

app.get('/counts', (c) => c.json(counts));
// counts what the middleware decided for every request below it, even when the client is gone
app.use('*', async (c, next) => {
  await next();
  if (c.res.status === 401 || c.res.status === 403 || c.res.status === 503) counts.refused++;
  else if (c.get('ipStamp')) counts.accepted++;
  else counts.unstamped++;
});
app.use(
  '*',
  ipstamp({
    keys: config.keys,
    trustedProxies: config.trustedProxies ?? [],
    onUnverifiable: config.onUnverifiable,
    required: config.required ?? true,
    issuer: config.issuer,
  }),
);
app.get('/orders', (c) => c.json(c.get('ipStamp')));
app.post('/orders', async (c) => c.json({ verdict: c.get('ipStamp'), body: await c.req.json() }));

const server = serve({
  fetch: app.fetch,
  hostname: '127.0.0.1',
  port: 0,
  ...(config.proxyProtocol ? { createServer: (http, handler) => createProxyProtocolServer(handler, { http, trustedProxies: config.trustedProxies }) } : {}),
});
trackPeerAddresses(server);
server.once('listening', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
