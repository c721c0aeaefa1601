import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { readServeConfig } from '../../server/cli/serve-config.js';
import { UsageError } from '../../server/cli/usage-error.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { header, rawExchange, type RawExchange } from './raw-http.js';

/**
 * `--request-timeout` (review F3): a client that sends a request's head and part of its body,
 * then goes silent, is cut off (408, or the connection closed) and frees what was read; other
 * clients are served meanwhile, and a SIGTERM drain does not wait for it. The silent clients
 * come from 127.0.0.2, the served ones from 127.0.0.1. Waits are bounded (10 s), never timed.
 */
const scratch = scratchDir();
const GIVE_UP_MS = 10_000;
/** Past the bounded waits, so a hang fails on its own assertion. */
const TEST_MS = 20_000;
let key: TestKeyPair;
let keysFile: string;
const running: RunningServe[] = [];

beforeAll(async () => {
  key = await makeKey('ES256', 'timeout-es');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
});
afterAll(async () => {
  for (const serve of running) await serve.stop();
  scratch.cleanup();
});

async function start(args: string[], command: 'serve' | 'gateway' = 'serve'): Promise<RunningServe> {
  const serve = await startServe(['--port', '0', '--keys', keysFile, '--request-timeout', '1', ...args], command);
  running.push(serve);
  return serve;
}

/** Writes `head` and `bodyPart` from 127.0.0.2, then nothing; resolves once the server closes the connection (or after 10 s). */
function silentAfter(port: number, head: string, bodyPart = ''): Promise<RawExchange> {
  return rawExchange(port, (socket) => socket.write(head + bodyPart), { giveUpMs: GIVE_UP_MS, localAddress: '127.0.0.2' });
}

/** Unsigned: it only declares cdg, which is enough to have the body read before verification. */
const FORGED_CDG = `${Buffer.from('{"alg":"HS256","typ":"ipstamp+jwt","kid":"nope"}').toString('base64url')}.${Buffer.from('{"cdg":"x"}').toString('base64url')}.AAAA`;

/** A POST head declaring `length` bytes of body, with a forged stamp that declares cdg. */
function postHead(port: number, length: number): string {
  return `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\nClient-IP-Attestation: ${FORGED_CDG}\r\n\r\n`;
}

/** Cut off: answered 408 and nothing else (no verdict, no refusal), or closed without a word. */
function expectTimedOut(exchange: RawExchange): void {
  expect(exchange.closed, 'the silent connection was still open after 10 s').toBe(true);
  expect(exchange.responses.map((r) => r.status)).toEqual(exchange.text === '' ? [] : [408]);
}

async function stampedPost(serve: RunningServe, body: string): Promise<Response> {
  const url = `${serve.url}/upload`;
  const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
  const token = await stamper.stamp({ method: 'POST', url, body });
  return fetch(url, { method: 'POST', body, headers: { 'client-ip-attestation': token, 'content-type': 'application/octet-stream' } });
}

describe('ipstamp serve --request-timeout', () => {
  let serve: RunningServe;
  beforeAll(async () => {
    serve = await start([]);
  });

  it(
    'cuts off a body that stops arriving, while a complete request on another connection is answered',
    async () => {
      const silent = silentAfter(serve.port, postHead(serve.port, 65_536), 'x'.repeat(32_768));
      const complete = await stampedPost(serve, 'y'.repeat(1000));
      expect(complete.status).toBe(200);
      expect(await complete.json()).toMatchObject({ ip: '127.0.0.1', agreement: 'match' });
      expectTimedOut(await silent);
    },
    TEST_MS,
  );

  it(
    'cuts off a head that stops arriving',
    async () => {
      expectTimedOut(await silentAfter(serve.port, `GET /x HTTP/1.1\r\nHost: 127.0.0.1:${serve.port}\r\nX-Slow: `));
    },
    TEST_MS,
  );

  it(
    'a request refused at its head whose body then stalls gets its one answer, then the connection closes without a second',
    async () => {
      // no stamp: refused 401 before the body is read; Node then reads the body to keep the
      // connection, and the timeout that follows must not answer that request a second time
      const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${serve.port}\r\nContent-Length: 65536\r\n\r\n`;
      const stalled = await silentAfter(serve.port, head, 'x'.repeat(1000));
      expect(stalled.closed, 'the stalled connection was still open after 10 s').toBe(true);
      expect(stalled.responses.map((r) => [r.status, JSON.parse(r.body).reason])).toEqual([[401, 'missing']]);
    },
    TEST_MS,
  );

  it(
    'a request that stalls before its answer still gets a 408, and the connection is closed',
    async () => {
      const stalled = await silentAfter(serve.port, postHead(serve.port, 65_536), 'x'.repeat(1000));
      expect(stalled.closed, 'the stalled connection was still open after 10 s').toBe(true);
      expect(stalled.responses.map((r) => [r.status, header(r, 'connection')])).toEqual([[408, 'close']]);
    },
    TEST_MS,
  );

  it(
    'still serves after cutting clients off',
    async () => {
      const complete = await stampedPost(serve, 'after');
      expect(complete.status).toBe(200);
    },
    TEST_MS,
  );
});

describe('ipstamp gateway --request-timeout', () => {
  let upstream: Server;
  let gateway: RunningServe;
  const forwarded: string[] = [];
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      forwarded.push(req.url!);
      req.resume();
      req.on('end', () => res.end('from upstream'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    gateway = await start(['--upstream', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`], 'gateway');
  });
  afterAll(async () => {
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it(
    'cuts off a body a forged cdg stamp made it buffer, and forwards a complete request meanwhile',
    async () => {
      const silent = silentAfter(gateway.port, postHead(gateway.port, 1_048_576), 'z'.repeat(1_048_575));
      const complete = await stampedPost(gateway, 'signed body');
      expect(complete.status).toBe(200);
      expect(await complete.text()).toBe('from upstream');
      expectTimedOut(await silent);
      expect(forwarded).toEqual(['/upload']);
    },
    TEST_MS,
  );
});

describe('ipstamp serve --proxy-protocol --request-timeout (its own server)', () => {
  it(
    'cuts off a body that stops arriving after the PROXY header',
    async () => {
      const serve = await start(['--trusted-proxies', 'loopback', '--proxy-protocol']);
      const proxyHeader = `PROXY TCP4 198.51.100.7 127.0.0.1 5555 ${serve.port}\r\n`;
      expectTimedOut(await silentAfter(serve.port, proxyHeader + postHead(serve.port, 65_536), 'x'.repeat(1000)));
    },
    TEST_MS,
  );
});

describe('the SIGTERM drain', () => {
  it(
    'does not wait for a request that stopped arriving',
    async () => {
      const serve = await start([]);
      const silent = silentAfter(serve.port, postHead(serve.port, 65_536), 'x'.repeat(1000));
      // a round trip on another connection: the server has taken the silent one in by then
      expect((await fetch(`${serve.url}/.well-known/ipstamp`)).status).toBe(200);
      serve.signal('SIGTERM');
      let giveUp: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (giveUp = setTimeout(() => resolve('hung'), GIVE_UP_MS)));
      const code = await Promise.race([serve.exited, hung]);
      clearTimeout(giveUp);
      expect(code).toBe(0);
      expect((await silent).closed).toBe(true);
    },
    TEST_MS,
  );
});

describe('the SIGTERM drain of a gateway', () => {
  it(
    'lets a request received in full wait for its upstream past --request-timeout, and answers it',
    async () => {
      let release: (() => void) | undefined;
      let arrived: () => void = () => undefined;
      const atUpstream = new Promise<void>((resolve) => (arrived = resolve));
      const upstream = createServer((req, res) => {
        req.resume();
        release = () => res.end('late but whole');
        arrived();
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      try {
        const gateway = await start(['--upstream', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`], 'gateway');
        const url = `${gateway.url}/slow`;
        const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
        const answer = fetch(url, { headers: { 'client-ip-attestation': token } }).then(async (r) => [r.status, await r.text()] as const);
        await atUpstream;
        gateway.signal('SIGTERM');
        // past --request-timeout (1 s) and a drain check or two: a request still arriving would be cut by now
        await new Promise((resolve) => setTimeout(resolve, 3000));
        release!();
        expect(await answer).toEqual([200, 'late but whole']);
        expect(await gateway.exited).toBe(0);
      } finally {
        upstream.closeAllConnections();
        await new Promise((resolve) => upstream.close(resolve));
      }
    },
    TEST_MS,
  );
});

describe('the flag', () => {
  it('defaults to 30 s and takes whole seconds', () => {
    expect(readServeConfig(['--keys', keysFile]).requestTimeoutMs).toBe(30_000);
    expect(readServeConfig(['--keys', keysFile, '--request-timeout', '5']).requestTimeoutMs).toBe(5000);
    expect(readServeConfig(['--keys', keysFile, '--request-timeout=3600']).requestTimeoutMs).toBe(3_600_000);
  });

  for (const bad of ['0', '3601', '-1', '1.5', '30s', '', ' 5']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      const read = () => readServeConfig(['--keys', keysFile, `--request-timeout=${bad}`]);
      expect(read).toThrow(UsageError);
      expect(read).toThrow(/^--request-timeout must be a whole number from 1 to 3600, got /);
    });
  }

  it('needs a value', () => {
    expect(() => readServeConfig(['--keys', keysFile, '--request-timeout'])).toThrow(/^Option '--request-timeout <value>' argument missing$/);
  });
});
