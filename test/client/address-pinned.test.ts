import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { echoAddress, perOriginAddress, socketAddressPerOrigin, staticAddress, type AddressSource } from '../../client/index.node.js';
import { readBoundedText } from '../../client/bounded-body.js';

// Which address a client claims, learned how and kept how long: the echo request itself, the
// cache around it, and the per-origin map, with a fetch (or a server) of the test's own.

const ECHO = 'https://api.test/.well-known/ipstamp';

function echoAnswer(body: string | Uint8Array<ArrayBuffer>): Response {
  return new Response(body, { headers: { 'content-type': 'application/json' } });
}

describe('the echo request (docs/client.md: "sent without cookies, and do not follow redirects")', () => {
  let server: HttpServer;
  let origin: string;
  beforeAll(async () => {
    // An echo endpoint that redirects elsewhere: what answers there is some other server's view of us.
    server = createHttpServer((req, res) => {
      if (req.url === '/.well-known/ipstamp') res.writeHead(307, { location: '/elsewhere' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ip":"192.0.2.9"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('a redirect from the echo endpoint is not followed: ERR_IPSTAMP_ECHO_FAILED, not the address the other URL reports', async () => {
    const source = echoAddress({ url: `${origin}/.well-known/ipstamp` });
    await expect(Promise.resolve(source.current())).rejects.toMatchObject({ code: 'ERR_IPSTAMP_ECHO_FAILED' });
  });

  it('asks fetch to send no credentials (in a page, cookies of the target would otherwise go along)', async () => {
    const inits: RequestInit[] = [];
    const source = echoAddress({
      url: ECHO,
      fetch: async (_input: unknown, init?: RequestInit) => {
        inits.push(init!);
        return echoAnswer('{"ip":"192.0.2.1"}');
      },
    });
    expect(await source.current()).toBe('192.0.2.1');
    expect(inits[0]).toMatchObject({ method: 'GET', credentials: 'omit', redirect: 'error' });
  });

  it('an echo that never answers is given up after timeoutMs: ERR_IPSTAMP_ECHO_FAILED with the timeout as cause', async () => {
    // A fetch that answers only by being aborted, as a hung connection does.
    const hung = (_input: unknown, init?: RequestInit): Promise<Response> =>
      new Promise((_resolve, reject) => {
        const signal = init?.signal;
        if (!signal) return reject(new Error('no signal: this request would hang for ever'));
        signal.addEventListener('abort', () => reject(signal.reason as Error));
      });
    const source = echoAddress({ url: ECHO, fetch: hung, timeoutMs: 1 });
    const error = (await Promise.resolve(source.current()).catch((e: unknown) => e)) as { code?: string; cause?: { name?: string } };
    expect(error.code).toBe('ERR_IPSTAMP_ECHO_FAILED');
    expect(error.cause?.name).toBe('TimeoutError');
  });
});

describe('the echo answer: at most 4 KiB of UTF-8 JSON (docs/client.md)', () => {
  const sourceAnswering = (body: string | Uint8Array<ArrayBuffer>) => echoAddress({ url: ECHO, fetch: async () => echoAnswer(body) });
  const padded = (size: number) => {
    const head = '{"ip":"192.0.2.1","pad":"';
    return `${head}${'x'.repeat(size - head.length - 2)}"}`;
  };

  it('exactly 4096 bytes is accepted; 4097 is not', async () => {
    expect(padded(4096)).toHaveLength(4096);
    expect(await sourceAnswering(padded(4096)).current()).toBe('192.0.2.1');
    await expect(Promise.resolve(sourceAnswering(padded(4097)).current())).rejects.toMatchObject({ code: 'ERR_IPSTAMP_ECHO_FAILED' });
  });

  it('bytes that are not UTF-8 are not JSON (RFC 8259 §8.1): ERR_IPSTAMP_ECHO_FAILED, not an address read around them', async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"ip":"192.0.2.1","x":"'), 0xff, ...new TextEncoder().encode('"}')]);
    await expect(Promise.resolve(sourceAnswering(bytes).current())).rejects.toMatchObject({ code: 'ERR_IPSTAMP_ECHO_FAILED' });
  });

  it('a body past the bound is cancelled, so the connection is not left holding the rest', async () => {
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(1024)),
      cancel: () => {
        cancelled = true;
      },
    });
    expect(await readBoundedText(endless, 4096)).toBeUndefined();
    await vi.waitFor(() => expect(cancelled).toBe(true));
  });
});

describe('how long an echoed address is kept', () => {
  it('by default 5 minutes (docs/client.md: echoTtlMs 300000): one echo until then, another at 5 min', async () => {
    let clock = 0;
    let echoes = 0;
    const source = echoAddress({
      url: ECHO,
      now: () => clock,
      fetch: async () => {
        echoes++;
        return echoAnswer('{"ip":"192.0.2.1"}');
      },
    });
    await source.current();
    clock = 299_999;
    await source.current();
    expect(echoes).toBe(1);
    clock = 300_000;
    await source.current();
    expect(echoes).toBe(2);
  });
});

describe('perOriginAddress keeps a bounded number of sources', () => {
  it('past maxOrigins the oldest origin is forgotten (made again if it comes back), so a client of many hosts stays small', () => {
    const made: string[] = [];
    const sources = perOriginAddress((origin): AddressSource => {
      made.push(origin);
      return staticAddress('192.0.2.1');
    }, 2);
    for (const origin of ['https://a.test', 'https://b.test', 'https://b.test', 'https://c.test', 'https://b.test', 'https://a.test']) {
      sources.sourceFor(origin);
    }
    expect(made).toEqual(['https://a.test', 'https://b.test', 'https://c.test', 'https://a.test']);
  });
});

describe("ip: 'socket' per origin: the probe goes where the request goes", () => {
  let v6: Server;
  let v6Port: number;
  beforeAll(async () => {
    v6 = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => v6.listen(0, '::1', resolve));
    v6Port = (v6.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => v6.close(resolve)));

  it('an IPv6 origin (http://[::1]:port) is probed at ::1, its brackets taken off', async () => {
    expect(await socketAddressPerOrigin().sourceFor(`http://[::1]:${v6Port}`).current()).toBe('::1');
  });

  // Port 443 can be bound only by root; elsewhere this one is skipped.
  it.skipIf(process.getuid?.() !== 0)('an https origin without a port is probed at 443, its default port', async () => {
    const tls = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => tls.once('error', reject).listen(443, '127.0.0.77', resolve));
    try {
      expect(await socketAddressPerOrigin().sourceFor('https://127.0.0.77').current()).toMatch(/^127\./);
    } finally {
      await new Promise((resolve) => tls.close(resolve));
    }
  });
});
