import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AttackSetupError, runAttacks, type Attack } from '../../server/attack/index.js';
import { responseOutcome } from '../../server/attack/transport.js';
import { makeKey } from '../support/keys.js';
import { freePort } from '../support/ports.js';

/**
 * What a target sends back, read for what it is: a status line over HTTP/1.0 is an answer;
 * silence, a target that went away or a race sent nowhere is a warning or an error, never a
 * pass that could add up to SAFE. And the run never leaves the target it was given.
 */

/** A TCP server that accepts connections and never writes a byte. */
async function startTarpit(): Promise<{ port: number; close(): Promise<void> }> {
  const held = new Set<Socket>();
  const server: Server = createServer((socket) => held.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const socket of held) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const rawRequest = {
  kind: 'raw',
  bytes: Buffer.from('PROXY TCP4 203.0.113.9 127.0.0.1 51234 80\r\n'),
  http: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
} as const;

describe('raw and raced requests that get no answer', () => {
  it('a PROXY header attack met with silence only warns (no answer in the timeout), it does not pass as a close', async () => {
    const key = await makeKey('ES256');
    const tarpit = await startTarpit();
    try {
      const report = await runAttacks({
        target: `http://127.0.0.1:${tarpit.port}/`,
        key: key.privateJwk,
        ip: '127.0.0.1',
        timeoutMs: 200,
        only: ['proxy-v1-spoofed'],
      });
      expect(report.results.map((r) => [r.verdict, r.got])).toEqual([['warn', 'no answer in 200 ms']]);
    } finally {
      await tarpit.close();
    }
  });

  it('a PROXY header attack on a target that stopped accepting connections could not run: an error, INCONCLUSIVE', async () => {
    const key = await makeKey('ES256');
    const tarpit = await startTarpit();
    const vanishing: Attack = {
      name: 'raw-after-target-gone',
      description: 'the target goes away before the header is sent',
      expect: { reject: true, reason: 'closed' },
      build: async () => {
        await tarpit.close();
        return rawRequest;
      },
    };
    const report = await runAttacks({
      target: `http://127.0.0.1:${tarpit.port}/`,
      key: key.privateJwk,
      ip: '127.0.0.1',
      timeoutMs: 1000,
      attacks: [vanishing],
    });
    expect(report.results.map((r) => [r.verdict, r.got])).toEqual([['error', 'unreachable (ECONNREFUSED)']]);
    expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2, summary: { errors: 1, passed: 0 } });
  });

  it('a race whose copies all went where nobody listens could not run: an error, not a refused control', async () => {
    const key = await makeKey('ES256');
    const tarpit = await startTarpit();
    const gone = `http://127.0.0.1:${await freePort()}/`;
    try {
      const race: Attack = {
        name: 'race-nowhere',
        description: 'copies sent where nobody listens',
        expect: { reject: true, reason: 'replay' },
        build: async (ctx) => {
          const stamp = await ctx.stamp();
          return { race: [ctx.http(stamp, { url: gone }), ctx.http(stamp, { url: gone })] };
        },
      };
      const report = await runAttacks({ target: `http://127.0.0.1:${tarpit.port}/`, key: key.privateJwk, ip: '127.0.0.1', attacks: [race] });
      expect(report.results[0]).toMatchObject({ verdict: 'error', got: '0 of 2 accepted; 2 × unreachable (ECONNREFUSED)' });
      expect(report.results[0]!.legitimateRefused).toBeUndefined();
    } finally {
      await tarpit.close();
    }
  });
});

describe('raw answers', () => {
  it('a PROXY header attack answered 200 by an HTTP/1.0 server was accepted: it fails, UNSAFE', async () => {
    const key = await makeKey('ES256');
    const server: Server = createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"ip":"203.0.113.9"}'));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const report = await runAttacks({ target: `http://127.0.0.1:${port}/`, key: key.privateJwk, ip: '127.0.0.1', only: ['proxy-v2-spoofed'] });
      expect(report.results.map((r) => [r.verdict, r.got])).toEqual([['fail', '200 accepted']]);
      expect(report).toMatchObject({ verdict: 'UNSAFE', exitCode: 1 });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('reading a rejection', () => {
  it('a problem type outside the urn:ipstamp: namespace names no ipstamp reason, even when its tail looks like one', () => {
    expect(responseOutcome(401, JSON.stringify({ type: 'urn:example:replay' }))).toEqual({ kind: 'response', status: 401 });
    expect(responseOutcome(401, JSON.stringify({ type: 'urn:ipstamp:replay' }))).toEqual({ kind: 'response', status: 401, reason: 'replay' });
  });
});

describe('what the target says about itself', () => {
  /** Answers the echo with `echoStatus`, the issuer JWK Set with `jwks`, anything else 200. */
  async function startSelfDescribing(echoStatus: number, jwks: unknown): Promise<{ url: string; close(): Promise<void> }> {
    const server = createHttpServer((req, res) => {
      req.resume();
      const body = req.url === '/.well-known/ipstamp' ? { ip: '127.0.0.1' } : req.url === '/.well-known/ipstamp/issuer-jwks' ? jwks : {};
      res.writeHead(req.url === '/.well-known/ipstamp' ? echoStatus : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  it('an address in an echo answered with an error status is not trusted: no-address (pass --ip)', async () => {
    const key = await makeKey('ES256');
    const target = await startSelfDescribing(500, { keys: [] });
    try {
      await expect(runAttacks({ target: target.url, key: key.privateJwk, only: ['control-get'] })).rejects.toMatchObject({ problem: 'no-address' });
    } finally {
      await target.close();
    }
  });

  it('an empty issuer JWK Set issues no tickets: no ticket issuer is asked, the ticket attacks say why they cannot apply', async () => {
    const key = await makeKey('ES256');
    const target = await startSelfDescribing(200, { keys: [] });
    try {
      const report = await runAttacks({ target: target.url, key: key.privateJwk, only: ['control-get', 'control-ticket'] });
      expect(report.ticketIssuer).toBeUndefined();
      expect(report.results.map((r) => [r.name, r.verdict])).toEqual([
        ['control-get', 'pass'],
        ['control-ticket', 'skip'],
      ]);
      expect(report.results[1]!.note).toMatch(/issues no tickets/);
    } finally {
      await target.close();
    }
  });
});

describe('the run stays on the target it was given', () => {
  it('a path that would leave the origin (//host, /\\host) is refused before anything is sent', async () => {
    const key = await makeKey('ES256');
    for (const path of ['//attacker.example/x', '/\\attacker.example/x']) {
      await expect(runAttacks({ target: 'http://127.0.0.1:9/', path, key: key.privateJwk })).rejects.toThrow(/path must be an absolute path on the target/);
    }
  });

  it('a target URL carrying credentials is a bad target (they would be sent to it with every attack)', async () => {
    const key = await makeKey('ES256');
    for (const target of ['http://user:secret@127.0.0.1:9/', 'http://user@127.0.0.1:9/']) {
      const error = await runAttacks({ target, key: key.privateJwk }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AttackSetupError);
      expect(error).toMatchObject({ problem: 'bad-target' });
    }
  });
});
