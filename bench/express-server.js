/**
 * One Express 5 benchmark server, forked by bench/express.js and pinned to its own core. It
 * answers `GET /orders` bare or behind ipstamp/node (HS256, memory store) and reports its own
 * CPU time over the window the parent asks about (IPC 'cpu-start' / 'cpu-stop').
 */
import express from 'express';
import { serveBenchParent } from './processes.js';

const [variant, keysJson] = process.argv.slice(2);
const keys = JSON.parse(keysJson);

const app = express();
let track = (server) => server;
if (variant === 'express-ipstamp-hs256-memory') {
  const { ipstamp, trackPeerAddresses } = await import('../dist/server/node/index.js');
  app.use(ipstamp({ keys: { keys: [keys.hs256] }, maxAge: 600, echo: false }));
  app.get('/orders', (req, res) => res.json({ ip: req.ipStamp.ip }));
  track = trackPeerAddresses;
} else {
  app.get('/orders', (_req, res) => res.json({ ok: true }));
}

// the peer read at accept, as the docs tell users to do
const server = track(app.listen(0, '127.0.0.1'));
await new Promise((resolve) => server.once('listening', resolve));
serveBenchParent(server.address().port, () => new Promise((done) => (server.closeAllConnections(), server.close(done))));
