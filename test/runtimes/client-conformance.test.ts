import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import fc from 'fast-check';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeClient from '../../client/index.js';
import { buildBrowserBundle } from '../../examples/browser/build-bundle.mjs';
import { ipstamp, rawBodyVerify, trackPeerAddresses } from '../../server/node/index.js';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { STAMP_HEADER } from '../../shared/schema.js';
import { chromiumPath, collectPageProblems, launchChromium } from '../support/chromium.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { bundleFixture, requireRuntime } from '../support/runtimes.js';
import {
  CASE_HEADER,
  MATRIX,
  expectationFor,
  fill,
  patternBytes,
  runClientMatrix,
  type BodySpec,
  type CaseResult,
  type MatrixCase,
  type MatrixRuntime,
  type RunOptions,
} from './fixtures/client-matrix.js';

/**
 * The client SDK's conformance across runtimes: the same fixed matrix (fixtures/client-matrix.ts:
 * URL spellings, methods, every body kind of docs/client.md) sent by `createStampedFetch` from
 * Node (undici), Bun and Deno (the built `ipstamp/client`, bundled as a user would) and headless
 * Chromium (dist/browser's bundle, built as test/browser builds it), each with its own URL
 * parser, fetch, Blob/FormData serialization, TextEncoder and WebCrypto, to ONE Node verifier
 * (`ipstamp/node`, `requireBodyDigest: true`) that records what arrived. Each request must be
 * accepted — its `htu` (docs/protocol.md §2.2, §5 step 9) the path and Host the verifier got,
 * its `cdg` the SHA-256 of the bytes it got — or refused before sending exactly as
 * docs/client.md says (a stream body: ERR_IPSTAMP_BODY_NOT_DIGESTIBLE). Where runtimes spell a
 * path differently, the matrix says so (`htuIn`): each must sign what it sends.
 */

/**
 * Generated cases, the same list for every runtime: paths built from the pieces URL parsers and
 * fetch implementations disagree on (dot segments plain and encoded, slashes, backslashes,
 * percent-encodings, characters some parsers encode and some do not, non-ASCII), a query or
 * fragment, and a text body (any UTF-16, lone surrogates included) or none. Fixed seed: a
 * failure names the case (`gen/<seed>/<n>`), and the same seed gives the same list again.
 */
const GENERATOR_SEED = 20261207;
const GENERATED_RUNS = 120;
const PATH_PIECES = [
  '/',
  '//',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2f',
  '%7e',
  '%',
  'a',
  'Z',
  'é',
  '日',
  '😀',
  '\uD800',
  '^',
  '|',
  '`',
  '{',
  '}',
  ' ',
  '"',
  "'",
  '[',
  ']',
  ';',
  '\\',
  '&',
  '=',
  '+',
  '\t',
  '~',
  '!',
  '*',
  '(',
  ')',
  '@',
  ':',
  ',',
  '$',
];
function generatedCases(): MatrixCase[] {
  const arbitrary = fc.record({
    pieces: fc.array(fc.constantFrom(...PATH_PIECES), { minLength: 0, maxLength: 8 }),
    tail: fc.constantFrom('', '?', '?q=é&x', '#frag', '?#', '?a#b'),
    body: fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: undefined }),
    method: fc.constantFrom('POST', 'put', 'Patch', 'delete'),
  });
  return fc.sample(arbitrary, { seed: GENERATOR_SEED, numRuns: GENERATED_RUNS }).map(({ pieces, tail, body, method }, n) => ({
    id: `gen/${GENERATOR_SEED}/${n}`,
    url: `{origin}/${pieces.join('')}${tail}`,
    method,
    ...(body === undefined ? {} : { body: { kind: 'text' as const, value: body } }),
    expect: { accepted: true as const, htu: null, htm: method.toUpperCase() },
  }));
}
const GENERATED = generatedCases();

const RUNTIME_LABELS: Record<MatrixRuntime, string> = { node: 'Node (undici fetch)', bun: 'Bun', deno: 'Deno', chromium: 'Chromium' };

/** One request as the verifier received it. */
interface Arrival {
  method: string;
  target: string;
  host: string | undefined;
  contentType: string | undefined;
  bodyDigest: string;
  body: Buffer;
  claims: Record<string, unknown> | undefined;
  status: number;
  accepted: boolean;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64url');
const encoder = new TextEncoder();

/** The bytes docs/client.md says a body is sent as; undefined where the runtime picks them (a multipart boundary). */
function expectedBytes(spec: BodySpec | undefined): Uint8Array | undefined {
  if (spec === undefined) return new Uint8Array(0);
  switch (spec.kind) {
    case 'text':
      return encoder.encode(spec.value); // UTF-8, a lone surrogate as U+FFFD (USVString)
    case 'bytes':
      return patternBytes(spec.size);
    case 'blob':
      return encoder.encode(spec.parts.join(''));
    case 'params':
      return encoder.encode(spec.wire);
    case 'stream':
      return encoder.encode(spec.chunks.join(''));
    default:
      return undefined;
  }
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>loading</title>
<script type="module">
  import * as ipstamp from '/ipstamp.js';
  import { runClientMatrix } from '/runner.js';
  window.runMatrix = (options) => runClientMatrix(ipstamp, options);
  document.title = 'ready';
</script>`;

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, PURGE';

interface MatrixVerifier {
  origin: string;
  host80: string | undefined;
  arrivals: Map<string, Arrival[]>;
  close(): Promise<void>;
}

/**
 * The verifier every runtime talks to: node:http with the `ipstamp/node` middleware (the body
 * handed over with rawBodyVerify), on 127.0.0.1 and — for the default-port cases — on port 80
 * of another loopback address when this process may bind it. CORS for the page's cross-origin
 * cases (another host name, port 80); the page and its scripts are served unstamped.
 */
async function startMatrixVerifier(key: TestKeyPair, assets: { bundle: string; runner: string }): Promise<MatrixVerifier> {
  const stamp = ipstamp({ keys: { keys: [key.publicJwk] }, requireBodyDigest: true });
  const arrivals = new Map<string, Arrival[]>();

  const handler: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'date');
    const caseName = req.headers[CASE_HEADER];
    if (req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
      res.writeHead(204, {
        'access-control-allow-methods': ALLOWED_METHODS,
        'access-control-allow-headers': `${STAMP_HEADER}, ${CASE_HEADER}, content-type`,
        'access-control-max-age': '600',
      });
      return void res.end();
    }
    if (typeof caseName !== 'string') {
      const asset = req.url === '/' ? PAGE : req.url === '/ipstamp.js' ? assets.bundle : req.url === '/runner.js' ? assets.runner : undefined;
      if (asset === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': req.url === '/' ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8' });
      return void res.end(asset);
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const token = req.headers[STAMP_HEADER];
      const payload = typeof token === 'string' ? decodeBase64urlText(token.split('.')[1] ?? '') : undefined;
      const arrival: Arrival = {
        method: req.method ?? '',
        target: req.url ?? '',
        host: req.headers.host,
        contentType: req.headers['content-type'],
        bodyDigest: sha256(body),
        body,
        claims: payload === undefined ? undefined : (JSON.parse(payload) as Record<string, unknown>),
        status: 0,
        accepted: false,
      };
      const list = arrivals.get(caseName) ?? [];
      list.push(arrival);
      arrivals.set(caseName, list);
      res.on('finish', () => (arrival.status = res.statusCode));
      rawBodyVerify(req, res, body);
      stamp(req, res, (error) => {
        if (error) return void res.writeHead(500).end();
        arrival.accepted = true;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ip: req.ipStamp?.ip, agreement: req.ipStamp?.agreement }));
      });
    });
  };

  const listen = (server: Server, port: number, host: string): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => (server.removeListener('error', reject), resolve()));
    });
  const main = trackPeerAddresses(createServer(handler));
  await listen(main, 0, '127.0.0.1');
  const servers = [main];
  // port 80 on a loopback address of our own (another session's port 80 is not ours to take)
  let host80: string | undefined;
  for (let attempt = 0; attempt < 5 && host80 === undefined; attempt++) {
    const candidate = `127.80.${(process.pid + attempt * 37) % 250}.${1 + attempt}`;
    const server = trackPeerAddresses(createServer(handler));
    try {
      await listen(server, 80, candidate);
      servers.push(server);
      host80 = candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES') break;
    }
  }
  if (host80 === undefined) console.warn('\n!!! SKIPPING the default-port (:80) cases: this process may not listen on port 80\n');
  const { port } = main.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    host80,
    arrivals,
    close: async () => {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((done) => server.close(() => done()));
      }
    },
  };
}

/** Runs a bundled script under `binary` in a temp dir and returns the results line it prints. */
async function runBundled(binary: string, args: string[], code: string, options: RunOptions): Promise<CaseResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ipstamp-client-matrix-'));
  try {
    await writeFile(join(dir, 'matrix.mjs'), code);
    const env = { PATH: process.env.PATH ?? '', HOME: dir, DENO_DIR: join(dir, '.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((done, fail) => {
      execFile(
        binary,
        [...args, 'matrix.mjs'],
        { cwd: dir, env: { ...env, MATRIX_OPTIONS: JSON.stringify(options) }, timeout: 60_000, maxBuffer: 16 << 20 },
        (error, out, err) => (error ? fail(new Error(`${error.message}\n${err}`)) : done({ stdout: out, stderr: err })),
      );
    });
    const line = stdout.split('\n').find((l) => l.startsWith('MATRIX-RESULTS '));
    if (line === undefined) throw new Error(`no results from ${binary}:\n${stdout}\n${stderr}`);
    return JSON.parse(line.slice('MATRIX-RESULTS '.length)) as CaseResult[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const bun = requireRuntime('bun');
const deno = requireRuntime('deno');
const chromium = chromiumPath();

describe('ipstamp/client: the same matrix from Node, Bun, Deno and Chromium to one Node verifier', () => {
  let key: TestKeyPair;
  let verifier: MatrixVerifier;
  let browser: Browser | undefined;
  const results = new Map<MatrixRuntime, Map<string, CaseResult>>();
  const pageErrors: string[] = [];

  beforeAll(async () => {
    key = await makeKey('ES256', 'matrix-es256');
    const [{ code: bundle }, runner] = await Promise.all([
      buildBrowserBundle({ outfile: false }),
      build({
        entryPoints: [resolve(import.meta.dirname, 'fixtures/client-matrix.ts')],
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        logLevel: 'silent',
      }).then((r) => r.outputFiles[0]!.text),
    ]);
    verifier = await startMatrixVerifier(key, { bundle, runner });
    const options = (runtime: MatrixRuntime): RunOptions => ({
      runtime,
      origin: verifier.origin,
      host80: verifier.host80,
      extra: GENERATED,
      key: key.privateJwk,
      ip: '127.0.0.1',
    });

    const keep = (runtime: MatrixRuntime, list: CaseResult[]): void => void results.set(runtime, new Map(list.map((r) => [r.id, r])));
    // one runtime at a time: they share two cores with everything else
    keep('node', await runClientMatrix(nodeClient, options('node')));
    const entry = resolve(import.meta.dirname, 'fixtures/client-matrix-runner.ts');
    if (bun !== undefined) keep('bun', await runBundled(bun, ['run'], await bundleFixture(entry, 'bun'), options('bun')));
    if (deno !== undefined) {
      keep('deno', await runBundled(deno, ['run', '--allow-net', '--allow-env', '--no-prompt'], await bundleFixture(entry, 'deno'), options('deno')));
    }
    if (chromium !== undefined) {
      browser = await launchChromium(chromium);
      const page = await browser.newPage();
      const problems = collectPageProblems(page);
      await page.goto(`${verifier.origin}/`);
      await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 10_000 });
      const list = await page.evaluate((o) => (window as unknown as { runMatrix(o: RunOptions): Promise<CaseResult[]> }).runMatrix(o), options('chromium'));
      keep('chromium', list);
      pageErrors.push(...problems.errors);
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await verifier?.close();
  });

  it('every runtime that is installed ran the whole matrix', () => {
    const expected: MatrixRuntime[] = ['node'];
    if (bun) expected.push('bun');
    if (deno) expected.push('deno');
    if (chromium) expected.push('chromium');
    expect([...results.keys()]).toEqual(expected);
    for (const list of results.values()) expect([...list.keys()]).toEqual([...MATRIX, ...GENERATED].map((c) => c.id));
  });

  it('the page logged nothing but the matrix (no refusal, no uncaught error)', () => {
    expect(pageErrors).toEqual([]);
  });

  const runtimes: [MatrixRuntime, boolean][] = [
    ['node', true],
    ['bun', bun !== undefined],
    ['deno', deno !== undefined],
    ['chromium', chromium !== undefined],
  ];
  for (const [runtime, present] of runtimes) {
    describe.skipIf(!present)(RUNTIME_LABELS[runtime], () => {
      for (const c of MATRIX) it(c.id, () => checkCase(runtime, c));
      it(`${GENERATED_RUNS} generated paths and bodies (seed ${GENERATOR_SEED}): each accepted, signed for what arrived`, () => {
        for (const c of GENERATED) checkCase(runtime, c);
      });
    });
  }

  function checkCase(runtime: MatrixRuntime, c: MatrixCase): void {
    const result = results.get(runtime)?.get(c.id);
    if (result === undefined) throw new Error(`${runtime} gave no result for ${c.id}`);
    if (result.outcome.kind === 'skipped') {
      expect(c.port80 && verifier.host80 === undefined, 'only the port-80 cases are skipped, when port 80 cannot be bound').toBe(true);
      return;
    }
    const arrived = verifier.arrivals.get(`${runtime} ${c.id}`) ?? [];
    const want = expectationFor(c, runtime);
    const context = JSON.stringify({ runtime, id: c.id, outcome: result.outcome, signed: result.signed, arrived: arrived.map(({ body, ...a }) => a) });
    if (!want.accepted) {
      // refused before anything was sent, with the error docs/client.md names
      expect(result.outcome, context).toMatchObject(
        want.error === 'TypeError' ? { kind: 'error', name: 'TypeError' } : { kind: 'error', name: 'IpStampClientError', code: want.error },
      );
      expect(result.signed, context).toEqual([]);
      expect(arrived, context).toEqual([]);
      return;
    }
    // accepted the first time: one stamp, one request, no retry
    expect(result.outcome, context).toEqual({ kind: 'response', status: 200 });
    expect(result.signed, context).toHaveLength(1);
    expect(arrived, context).toHaveLength(1);
    const signed = result.signed[0]!;
    const got = arrived[0]!;
    expect(got.accepted, context).toBe(true);
    expect(got.claims, 'the verifier got the stamp the SDK handed to fetch').toEqual(signed);

    // what the SDK signed is what docs/protocol.md §2.2 says for this URL and method…
    const htu = want.htu === null ? String(signed.htu) : fill(want.htuIn?.[runtime] ?? want.htu, verifier.origin, verifier.host80);
    expect({ htm: signed.htm, htu: signed.htu }, context).toEqual({ htm: want.htm, htu });
    expect(htu, context).toMatch(/^https?:\/\/[^/?#\s]+\/[^?#\s]*$/); // §2.2's pattern
    // …and what the runtime sent (§5 step 9): the method, the path before '?', the Host
    expect(got.method, context).toBe(want.htm);
    const pathStart = htu.indexOf('/', 'http://'.length);
    expect(got.target.split('?')[0], context).toBe(htu.slice(pathStart));
    expect(`http://${got.host}`, context).toBe(htu.slice(0, pathStart));

    // cdg: the SHA-256 of the bytes that arrived, which are the bytes docs/client.md says
    expect(signed.cdg, context).toBe(got.bodyDigest);
    const bytes = expectedBytes(c.body);
    if (bytes !== undefined) expect(got.bodyDigest, context).toBe(sha256(bytes));
    if (c.body?.kind === 'form') {
      // the runtime's own serialization, sent with the boundary it chose
      const boundary = /^multipart\/form-data; ?boundary=(.+)$/i.exec(got.contentType ?? '')?.[1];
      expect(boundary, context).toBeDefined();
      const text = got.body.toString('utf8');
      // the CRLF after the close delimiter is optional (RFC 2046 §5.1.1): Deno leaves it out
      const parts = text.startsWith(`--${boundary}\r\n`) && /--(\r\n)?$/.test(text) && text.includes(`\r\n--${boundary}--`);
      const empty = text === `--${boundary}--` || text === `--${boundary}--\r\n`; // a form without entries: the close delimiter alone
      expect(parts || (empty && c.body.fields.length === 0 && c.body.file === undefined), text).toBe(true);
      if (c.body.file) expect(text).toContain(c.body.file.content);
      for (const [name, value] of c.body.fields) expect(text).toContain(`name="${name}"\r\n\r\n${value}\r\n`);
    }
  }
});
