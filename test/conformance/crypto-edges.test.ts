import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoEdgeCases, nodeEdgeAnswers } from './crypto-edges.js';

/**
 * The crypto edge cases (crypto-edges.ts) on Node: node:crypto (createVerifierCore) and the web
 * verifier on Node's WebCrypto give each the answer docs/protocol.md requires, and accept
 * exactly the same signatures. Here, not beside the runtimes, so .ci/run's Node 22 and 24 runs
 * (another OpenSSL) check them too; test/runtimes/conformance.test.ts asks Bun, Deno and
 * workerd the same.
 */
const edges = cryptoEdgeCases();
let answers: Awaited<ReturnType<typeof nodeEdgeAnswers>>;

beforeAll(async () => {
  answers = await nodeEdgeAnswers(edges);
});

describe(`crypto edge cases on Node ${process.version}`, () => {
  it('node:crypto and the web verifier give every case its answer', () => {
    const got = Object.fromEntries(edges.map((e) => [e.vector.id, { node: answers.node[e.vector.id], web: answers.web[e.vector.id] }]));
    expect(got).toEqual(Object.fromEntries(edges.map((e) => [e.vector.id, e.want])));
  });

  it('node:crypto and WebCrypto on Node accept exactly the same signatures', () => {
    const acceptance = (table: Record<string, string>) => Object.fromEntries(Object.entries(table).map(([id, a]) => [id, a === 'accepted']));
    expect(acceptance(answers.web)).toEqual(acceptance(answers.node));
  });

  if (process.env.IPSTAMP_EDGE_TABLE) {
    it('(report) the edge table and what WebCrypto alone says', () => {
      for (const e of edges)
        console.log(
          `EDGE\tNode ${process.version}\t${e.vector.id}\tnode:${answers.node[e.vector.id]} web:${answers.web[e.vector.id]}\t${answers.probes[e.vector.id]}`,
        );
    });
  }
});
