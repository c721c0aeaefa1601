// A test app run as its own process: `node test/node/app.mjs '<json config>'`, config
// { framework: 'express5' | 'express4' | 'http', keys, trustedProxies?, proxyProtocol?, issuer? }.
// Prints one JSON line `{ "port": N }` once listening. Loads the built package (`ipstamp/node`).
import { createServer } from 'node:http';
import { ipstamp, rawBodyVerify, trackPeerAddresses } from 'ipstamp/node';
import { createProxyProtocolServer } from 'ipstamp/server';

const config = JSON.parse(process.argv[2]);
const stamp = ipstamp({ keys: config.keys, trustedProxies: config.trustedProxies ?? [], ...config.options });
// what reached a handler (accepted) and what was refused, for the reset-connection test
const counts = { accepted: 0, refused: 0 };
const count = (req, res) =>
  res.once('close', () => (res.statusCode === 401 || res.statusCode === 403 ? counts.refused++ : req.ipStamp ? counts.accepted++ : 0));
const verdictOf = (req) => ({ ipStamp: req.ipStamp ?? null, body: req.body ?? null });

async function expressApp(express) {
  const app = express();
  // the parsers first, their verify hook recording the bytes as received; then ipstamp
  app.get('/counts', (_req, res) => res.json(counts));
  app.use((req, res, next) => (count(req, res), next()));
  app.use(express.json({ verify: rawBodyVerify }));
  app.use(express.raw({ type: 'application/octet-stream', verify: rawBodyVerify }));
  app.get('/optional', stamp.optional, (req, res) => res.json(verdictOf(req)));
  app.use(stamp);
  app.all('/whoami', (req, res) => res.json(verdictOf(req)));
  app.post('/raw', (req, res) => res.json({ ipStamp: req.ipStamp, length: req.body.length }));
  return app;
}

/** Plain node:http: the handler reads the body itself and hands the bytes over before the middleware. */
function httpApp() {
  return (req, res) => {
    if (req.url === '/counts') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
    count(req, res);
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const bytes = Buffer.concat(chunks);
      // rawBodyVerify itself refuses to vouch for an encoded body
      if (bytes.length > 0) rawBodyVerify(req, res, bytes);
      const path = (req.url ?? '/').split('?')[0];
      const middleware = path === '/optional' ? stamp.optional : stamp;
      middleware(req, res, (error) => {
        if (error) return res.writeHead(500).end();
        let body = null;
        if (bytes.length > 0 && req.headers['content-type'] === 'application/json') body = JSON.parse(bytes.toString('utf8'));
        const out = path === '/raw' ? { ipStamp: req.ipStamp, length: bytes.length } : { ipStamp: req.ipStamp ?? null, body };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      });
    });
  };
}

let handler;
if (config.framework === 'express5') handler = await expressApp((await import('express')).default);
else if (config.framework === 'express4') handler = await expressApp((await import('express4')).default);
else handler = httpApp();

// the peer is read at accept (a reset connection has none later), also under the PROXY layer
const server = trackPeerAddresses(config.proxyProtocol ? createProxyProtocolServer(handler, { trustedProxies: config.trustedProxies }) : createServer(handler));
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
