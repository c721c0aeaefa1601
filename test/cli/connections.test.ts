import { createServer } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionLedger } from '../../server/cli/connections.js';
import { listenOnFreePort } from '../support/ports.js';
import { waitFor } from './stamped-traffic.js';

/**
 * The ledger serve keeps of its open connections (for the answer to a client error and for the
 * drain) holds the open ones only: a server that runs for months has had millions of
 * connections, and must not remember each of them.
 */
const server = createServer((_req, res) => res.end('ok'));
const ledger = new ConnectionLedger();
ledger.watch(server);
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('ConnectionLedger', () => {
  it('forgets each connection once it has closed', async () => {
    const port = await listenOnFreePort(server);
    const open = () => [...ledger.entries()].length;
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/${i}`, { headers: { connection: 'close' } });
      expect(await response.text()).toBe('ok');
    }
    await waitFor('every closed connection to leave the ledger', () => open() === 0, 5000);
    expect(open()).toBe(0);
  });
});
