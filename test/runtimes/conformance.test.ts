import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertConforms } from '../conformance/assert-conforms.js';
import type { ConformanceVector, VectorFile } from '../conformance/vector-format.js';
import type { VectorAnswer } from '../conformance/vector-run.js';
import { freePorts } from '../support/ports.js';
import { bundleFixture, requireRuntime, startBun, startDeno, startWorkerd, type BundleRuntime, type RunningRuntime } from '../support/runtimes.js';
import type { ConformanceAnswers, ConformanceBatch } from './fixtures/conformance-app.js';
import { cryptoEdgeCases, edgeAnswerOf, probeText } from '../conformance/crypto-edges.js';

/**
 * Every conformance vector (test/conformance/vectors/) through the built `ipstamp/web` INSIDE
 * Bun, Deno and workerd — each runtime's own WebCrypto, URL, Headers and Request — with the
 * same comparison test/conformance/vectors.test.ts makes on Node; then the crypto edge cases
 * (test/conformance/crypto-edges.ts: high-S and out-of-range ECDSA, DER, non-canonical
 * Ed25519, odd HMAC secrets and key spellings, tickets' client keys) that must get the answer
 * they get on Node (crypto-edges.test.ts) on every runtime. One process per runtime, one POST with the
 * whole batch (fixtures/conformance-app.ts). The ticket-request vectors need an issuer, which
 * only the node:crypto side has: they stay with vectors.test.ts.
 */
const VECTOR_DIR = resolve(import.meta.dirname, '../conformance/vectors');
const files = readdirSync(VECTOR_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => ({ name, file: JSON.parse(readFileSync(resolve(VECTOR_DIR, name), 'utf8')) as VectorFile }));
const vectors = files
  .filter(({ file }) => file.kind === 'verify')
  .flatMap(({ name, file }) => file.vectors.map((vector) => ({ name, vector, keys: vector.keys ?? file.keys })));
const edges = cryptoEdgeCases();

const batch: ConformanceBatch = {
  vectors: [...vectors.map(({ vector, keys }) => ({ vector, keys })), ...edges.map(({ vector, keys }) => ({ vector, keys }))],
  probes: edges.map((e) => e.probe),
};

interface RuntimeUnderTest {
  label: string;
  runtime: BundleRuntime;
  entry: string;
  start(binary: string, code: string, port: number): Promise<RunningRuntime>;
}

const RUNTIMES: readonly RuntimeUnderTest[] = [
  { label: 'Bun', runtime: 'bun', entry: 'bun-conformance.ts', start: startBun },
  { label: 'Deno', runtime: 'deno', entry: 'deno-conformance.ts', start: startDeno },
  {
    label: 'workerd',
    runtime: 'workerd',
    entry: 'worker-conformance.ts',
    start: (binary, code, port) => startWorkerd(binary, [{ name: 'conformance', code, port }]),
  },
];

for (const { label, runtime, entry, start } of RUNTIMES) {
  const binary = requireRuntime(runtime);

  describe.skipIf(binary === undefined)(`conformance inside ${label} (ipstamp/web, built)`, () => {
    let result: ConformanceAnswers;
    let byId: Map<string, VectorAnswer>;
    let output = '';

    beforeAll(async () => {
      const code = await bundleFixture(resolve(import.meta.dirname, 'fixtures', entry), runtime);
      const [port] = await freePorts(1);
      const running = await start(binary!, code, port!);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          body: JSON.stringify(batch),
          headers: { 'content-type': 'application/json' },
        });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`${label} answered ${response.status}: ${text.slice(0, 2000)}\n${running.output()}`);
        result = JSON.parse(text) as ConformanceAnswers;
      } finally {
        output = running.output();
        await running.stop();
      }
      byId = new Map(result.answers.map((a) => [a.id, a]));
    }, 60_000);

    it(`the answers come from ${label}, one per vector and edge case`, () => {
      const agent = { bun: /^Bun\//, deno: /^Deno\//, workerd: /^Cloudflare-Workers$/ }[runtime];
      expect(result.runtime, output).toMatch(agent);
      expect(result.answers.map((a) => a.id)).toEqual(batch.vectors.map((v) => v.vector.id));
    });

    it('most vectors went in as a web Request built by the runtime, the rest as plain data, none skipped', () => {
      // a verifier that refused its keys at load (an edge case) ran neither way
      const loadErrors = result.answers.filter((a) => 'error' in a).length;
      expect(result.counts.request + result.counts.plain).toBe(batch.vectors.length - loadErrors);
      expect(result.counts.request).toBeGreaterThan(result.counts.plain);
    });

    for (const { name, vector } of vectors) {
      it(`${name}: ${vector.id}`, () => {
        const answer = byId.get(vector.id);
        if (answer === undefined || 'error' in answer) throw new Error(`${vector.id}: ${answer === undefined ? 'no answer' : answer.error}`);
        assertConforms(vector as ConformanceVector, answer.run);
      });
    }

    it(`crypto edge cases: ${label} gives every case the answer Node's web verifier gives (and docs/protocol.md requires)`, () => {
      const got = Object.fromEntries(edges.map((e) => [e.vector.id, edgeAnswerOf(byId.get(e.vector.id))]));
      expect(got).toEqual(Object.fromEntries(edges.map((e) => [e.vector.id, e.want.web])));
    });

    it(`crypto edge cases: ${label} accepts exactly what node:crypto accepts`, () => {
      const got = Object.fromEntries(edges.map((e) => [e.vector.id, edgeAnswerOf(byId.get(e.vector.id)) === 'accepted']));
      expect(got).toEqual(Object.fromEntries(edges.map((e) => [e.vector.id, e.want.node === 'accepted'])));
    });

    if (process.env.IPSTAMP_EDGE_TABLE) {
      it('(report) the edge table and what WebCrypto alone says', () => {
        console.log(`COUNTS\t${label}\t${result.runtime}\t${JSON.stringify(result.counts)}`);
        const probes = new Map(result.probes.map((p) => [p.id, p]));
        for (const e of edges) console.log(`EDGE\t${label}\t${e.vector.id}\t${edgeAnswerOf(byId.get(e.vector.id))}\t${probeText(probes.get(e.vector.id))}`);
      });
    }
  });
}
