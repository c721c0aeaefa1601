import fc from 'fast-check';
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.node.js';
import { freePort, freePorts, listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { viaNames, viaPseudonym } from '../../server/cli/upstream-proxy.js';

/**
 * A gateway whose upstream leads back to itself — directly, through another gateway, or
 * through a proxy of some other kind — answers 508 upstream-loop at the second pass, by the
 * Via pseudonym it adds to every request it forwards (RFC 9110 §7.6.3), instead of forwarding
 * for ever. Every wait is bounded: a gateway that loops fails these tests, it does not hang them.
 */

/** Longest wait for one answer: a loop that is not cut never answers. */
const ANSWER_MS = 3000;
/** Per test: processes to start, a few answers to wait for. */
const TEST_MS = 20_000;
const PSEUDONYM = /^ipstamp-[0-9a-f]{8}$/;

const scratch = scratchDir();
const started: RunningServe[] = [];
const servers: Server[] = [];
let key: TestKeyPair;
let keysFile: string;

async function gateway(args: readonly string[]): Promise<RunningServe> {
  const running = await startServe(['--keys', keysFile, '--log-level', 'error', ...args], 'gateway');
  started.push(running);
  return running;
}

function preflight(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { ...headers, origin: 'https://app.example', 'access-control-request-method': 'POST' },
    signal: AbortSignal.timeout(ANSWER_MS),
  });
}

async function stamped(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const stamp = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
  return fetch(url, { headers: { ...headers, 'client-ip-attestation': stamp }, signal: AbortSignal.timeout(ANSWER_MS) });
}

async function expectLoopRefusal(response: Response): Promise<void> {
  expect(response.status).toBe(508);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(await response.json()).toEqual({ type: 'urn:ipstamp:upstream-loop', title: expect.any(String), status: 508, reason: 'upstream-loop' });
}

/** Still running, and still answering. */
async function expectAlive(running: RunningServe): Promise<void> {
  expect(await Promise.race([running.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 50))])).toBe('running');
  const ready = await fetch(`${running.url}/.well-known/ipstamp/ready`, { signal: AbortSignal.timeout(ANSWER_MS) });
  expect(ready.status).toBe(200);
}

/** The Via elements' received-by, in order (comments dropped): enough for the lines these tests write. */
function receivedBy(via: string | undefined): string[] {
  return (via ?? '')
    .replace(/\([^)]*\)/g, '')
    .split(',')
    .map((element) => element.trim().split(/\s+/)[1])
    .filter((name): name is string => name !== undefined);
}

interface Observed {
  method: string;
  url: string;
  via: string | undefined;
}

/**
 * A plain HTTP proxy of another kind in the loop: it forwards every request to `port`, adding
 * its own Via entry, and counts what it saw. Past `cap` requests it stops forwarding (a loop
 * the gateway failed to cut, bounded here).
 */
function observer(port: () => number, cap = 10): { server: Server; seen: Observed[] } {
  const seen: Observed[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method!, url: req.url!, via: req.headers.via });
    if (seen.length > cap) {
      res.writeHead(599).end('observer: loop cut');
      return;
    }
    const headers: OutgoingHttpHeaders = { ...req.headers, via: [req.headers.via, '1.1 observer'].filter(Boolean).join(', ') };
    delete headers.connection;
    const out = httpRequest({ host: '127.0.0.1', port: port(), method: req.method, path: req.url, headers, agent: false }, (answer) => {
      const back = { ...answer.headers };
      delete back.connection;
      delete back['transfer-encoding'];
      res.writeHead(answer.statusCode!, back);
      answer.pipe(res);
    });
    out.once('error', () => res.destroy());
    req.pipe(out);
  });
  servers.push(server);
  return { server, seen };
}

beforeAll(async () => {
  key = await makeKey('ES256', 'gw-loop');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
});
afterAll(async () => {
  await Promise.all(started.map((running) => running.stop()));
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  scratch.cleanup();
});

describe('a forwarding loop ends at the second pass: 508 upstream-loop', () => {
  it(
    'through a proxy of another kind (gateway → proxy → gateway): one request each way, then 508',
    async () => {
      let gatewayPort = 0;
      const { server, seen } = observer(() => gatewayPort);
      const observerPort = await listenOnFreePort(server);
      gatewayPort = await freePort();
      const looped = await gateway(['--port', String(gatewayPort), '--upstream', `http://127.0.0.1:${observerPort}`]);

      await expectLoopRefusal(await preflight(`${looped.url}/x`));
      // the proxy saw the preflight once, carrying the gateway's pseudonym
      expect(seen).toHaveLength(1);
      expect(seen[0]!.method).toBe('OPTIONS');
      expect(receivedBy(seen[0]!.via)).toEqual([expect.stringMatching(PSEUDONYM)]);

      await expectLoopRefusal(await stamped(`${looped.url}/y`));
      expect(seen).toHaveLength(2);
      expect(seen[1]!.via).toBe(seen[0]!.via);
      await expectAlive(looped);
    },
    TEST_MS,
  );

  it(
    'to itself (--upstream its own address): a preflight and a stamped request each get 508',
    async () => {
      const port = await freePort();
      const self = await gateway(['--port', String(port), '--upstream', `http://127.0.0.1:${port}`]);
      await expectLoopRefusal(await preflight(`${self.url}/x`));
      await expectLoopRefusal(await stamped(`${self.url}/y`));
      // a client's unclosed Via comment once hid the gateway's own entry: ~700 passes, then a 431
      await expectLoopRefusal(await preflight(`${self.url}/z`, { via: '1.1 a (' }));
      await expectAlive(self);
    },
    TEST_MS,
  );

  it(
    'between two gateways (A → B → A): a preflight gets 508, both stay up',
    async () => {
      const [portA, portB] = await freePorts(2);
      const a = await gateway(['--port', String(portA), '--upstream', `http://127.0.0.1:${portB}`]);
      const b = await gateway(['--port', String(portB), '--upstream', `http://127.0.0.1:${portA}`]);
      await expectLoopRefusal(await preflight(`${a.url}/x`));
      await expectLoopRefusal(await preflight(`${b.url}/x`));
      await expectAlive(a);
      await expectAlive(b);
    },
    TEST_MS,
  );
});

describe('Via on the way to the upstream', () => {
  const upstreamSaw: Observed[] = [];
  let upstreamGateway: RunningServe;

  beforeAll(async () => {
    const upstream = createServer((req, res) => {
      upstreamSaw.push({ method: req.method!, url: req.url!, via: req.headers.via });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('from the upstream');
    });
    servers.push(upstream);
    const port = await listenOnFreePort(upstream);
    upstreamGateway = await gateway(['--port', '0', '--upstream', `http://127.0.0.1:${port}`]);
  }, TEST_MS);

  it("an accepted request still goes through, and the upstream sees the gateway's pseudonym in Via", async () => {
    const ok = await stamped(`${upstreamGateway.url}/plain`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('from the upstream');
    expect(upstreamSaw.at(-1)!.via).toMatch(/^1\.1 ipstamp-[0-9a-f]{8}$/);
  });

  it("a client's own Via is kept, the gateway's entry appended; another ipstamp gateway's entry is no loop", async () => {
    expect((await stamped(`${upstreamGateway.url}/first`)).status).toBe(200);
    const ours = receivedBy(upstreamSaw.at(-1)!.via)[0]!;
    const other = ours === 'ipstamp-00000000' ? 'ipstamp-00000001' : 'ipstamp-00000000';
    const ok = await stamped(`${upstreamGateway.url}/via`, { via: `1.0 corp-proxy (Squid/6, a comment), 1.1 ${other}` });
    expect(ok.status).toBe(200);
    expect(upstreamSaw.at(-1)!.via).toBe(`1.0 corp-proxy (Squid/6, a comment), 1.1 ${other}, 1.1 ${ours}`);

    // a preflight, forwarded unverified, carries it too
    const forwarded = await preflight(`${upstreamGateway.url}/pre`);
    expect(forwarded.status).toBe(200);
    expect(upstreamSaw.at(-1)).toEqual({ method: 'OPTIONS', url: '/pre', via: `1.1 ${ours}` });
  });

  it("the gateway's Via entry names the protocol version the client used (an HTTP/1.0 request: 1.0)", async () => {
    const url = `${upstreamGateway.url}/old`;
    const stamp = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(upstreamGateway.port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.once('close', () => resolve(text));
      socket.once('error', reject);
      socket.write(`GET /old HTTP/1.0\r\nHost: 127.0.0.1:${upstreamGateway.port}\r\nClient-IP-Attestation: ${stamp}\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(upstreamSaw.at(-1)).toMatchObject({ url: '/old', via: expect.stringMatching(/^1\.0 ipstamp-[0-9a-f]{8}$/) });
  });

  it(
    'each gateway process has its own pseudonym',
    async () => {
      const port = await freePort();
      const { server, seen } = observer(() => port, 0);
      const observerPort = await listenOnFreePort(server);
      const second = await gateway(['--port', String(port), '--upstream', `http://127.0.0.1:${observerPort}`]);
      await preflight(`${second.url}/who`);
      const theirs = receivedBy(seen[0]!.via)[0];
      expect(theirs).toMatch(PSEUDONYM);
      expect(theirs).not.toBe(receivedBy(upstreamSaw.at(-1)!.via).at(-1));
    },
    TEST_MS,
  );
});

describe('reading Via', () => {
  it('finds the pseudonym in any Via line, whatever surrounds it: a comment cannot hide it', () => {
    const raw = [
      'Host',
      'a',
      'Via',
      '1.0 fred, 1.1 p.example.com:8080 (Apache/1.1)',
      'X-Via',
      '1.1 ipstamp-abcd0123',
      'VIA',
      'HTTP/1.1 Ipstamp-ABCD0123 (a, b)',
    ];
    expect(viaNames(raw, 'ipstamp-abcd0123')).toBe(true);
    expect(viaNames(raw.slice(0, 6), 'ipstamp-abcd0123')).toBe(false); // X-Via is not Via
    // an unclosed comment before it, in the same line, as a client may write it
    expect(viaNames(['Via', '1.1 a (, 1.1 ipstamp-abcd0123'], 'ipstamp-abcd0123')).toBe(true);
    expect(viaNames(['Via', '1.1 a ('], 'ipstamp-abcd0123')).toBe(false);
  });

  it('property: found in any Via value that holds it, whatever text surrounds it; never in one that does not', () => {
    const pseudonym = viaPseudonym();
    const text = fc.string({ maxLength: 60 }).filter((t) => !t.toLowerCase().includes(pseudonym));
    fc.assert(
      fc.property(text, text, fc.boolean(), fc.constantFrom('Via', 'via', 'VIA'), (before, after, upper, name) => {
        const written = upper ? pseudonym.toUpperCase() : pseudonym;
        expect(viaNames(['Host', 'x', name, `${before}${written}${after}`], pseudonym)).toBe(true);
        expect(viaNames(['Host', 'x', name, `${before}${after}`, 'X-Via', written], pseudonym)).toBe((before + after).toLowerCase().includes(pseudonym));
      }),
    );
  });

  it('a pseudonym is ipstamp- and 8 random hex digits, new each time', () => {
    const names = new Set(Array.from({ length: 50 }, () => viaPseudonym()));
    expect(names.size).toBe(50);
    for (const name of names) expect(name).toMatch(PSEUDONYM);
  });
});
