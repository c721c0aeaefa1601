import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli } from '../support/cli-process.js';
import { startGoodVerifier } from './broken-verifier.js';
import type { TestVerifierServer } from './verifier-server.js';

/**
 * A deployment whose route answers `200 OK` to every request: what the verifier behind accepts
 * gets its answer in full; what it refuses gets `200 OK` with a Content-Length the body never
 * reaches — the handler ran on the forged request, then crashed (`reset`, `close`) or hung
 * (`stall`). The status line is an answer: those forgeries were accepted, whatever became of
 * the body, and the run must say UNSAFE (exit 1), never SAFE.
 */
type Ending = 'reset' | 'close' | 'stall';

interface Front {
  readonly url: string;
  close(): Promise<void>;
}

async function startFront(behind: TestVerifierServer, ending: Ending): Promise<Front> {
  const backend = new URL(behind.url);
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const up = request({ host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const body: Buffer[] = [];
        answer.on('data', (c: Buffer) => body.push(c));
        answer.on('end', () => {
          if ((answer.statusCode ?? 500) < 400) {
            res.writeHead(answer.statusCode ?? 200, answer.headers);
            res.end(Buffer.concat(body));
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
          res.write('{"ok":true,"ip":"198.51.100.7"');
          if (ending === 'stall') return;
          setTimeout(() => (ending === 'reset' ? res.socket?.resetAndDestroy() : res.socket?.destroy()), 20);
        });
      });
      up.on('error', () => res.socket?.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.2:${port}/orders`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let dir: string;
let key: TestKeyPair;
let keyFile: string;
let good: TestVerifierServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipstamp-attack-cut-'));
  key = await makeKey('ES256');
  keyFile = join(dir, 'client.jwk.json');
  await writeFile(keyFile, JSON.stringify(key.privateJwk));
  good = await startGoodVerifier(key);
});
afterAll(async () => {
  await good.close();
  await rm(dir, { recursive: true, force: true });
});

const ATTACKS = ['stamp-missing', 'alg-none-none', 'payload-altered', 'replay-exact'];

describe('ipstamp attack (built CLI): a 2xx whose body is cut off or never finishes', () => {
  it.each<Ending>(['reset', 'close', 'stall'])(
    'a forgery answered 200 and then %s is accepted: UNSAFE, exit 1, not SAFE',
    async (ending) => {
      const front = await startFront(good, ending);
      try {
        const run = await runCli([
          'attack',
          '--target',
          front.url,
          '--key',
          keyFile,
          '--ip',
          '127.0.0.1',
          '--timeout',
          // ends the stalled bodies; long enough that a loaded machine's control still answers in it
          '1000',
          '--only',
          ['control-get', ...ATTACKS].join(','),
          '--json',
        ]);
        const report = JSON.parse(run.stdout) as {
          verdict: string;
          exitCode: number;
          results: { name: string; verdict: string; got: string }[];
        };
        const got = Object.fromEntries(report.results.map((r) => [r.name, [r.verdict, r.got]]));
        // the control went through the front whole: the run can judge the attacks
        expect(got['control-get']).toEqual(['pass', '200 accepted (match)']);
        for (const name of ATTACKS) expect(got[name], name).toEqual(['fail', '200 accepted']);
        expect(report).toMatchObject({ verdict: 'UNSAFE', exitCode: 1 });
        expect(run.code).toBe(1);
      } finally {
        await front.close();
      }
    },
    20_000,
  );
});
