import { resolve } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePorts } from '../support/ports.js';
import { bundleFixture, requireRuntime, startDeno, type RunningRuntime } from '../support/runtimes.js';
import { describeEdgeBehaviour, describeResetClients } from './edge-behaviour.js';

/** The edge app on Deno (`Deno.serve`, peer from `info.remoteAddr`), bundled from the built package; HS256 stamps (workerd: ES256, Bun: Ed25519). */
const deno = requireRuntime('deno');
let runtime: RunningRuntime | undefined;
let origin = '';
let resetOrigin = '';
let resetRuntime: RunningRuntime | undefined;
let key: TestKeyPair;

beforeAll(async () => {
  if (!deno) return;
  key = await makeKey('HS256', 'deno-hs');
  const code = await bundleFixture(resolve(import.meta.dirname, 'fixtures/deno-server.ts'), 'deno');
  const [port, resetPort] = await freePorts(2);
  origin = `http://127.0.0.1:${port}`;
  resetOrigin = `http://127.0.0.1:${resetPort}`;
  const KEYS = JSON.stringify({ keys: [key.publicJwk] });
  [runtime, resetRuntime] = await Promise.all([startDeno(deno, code, port!, { KEYS }), startDeno(deno, code, resetPort!, { KEYS, ON_UNVERIFIABLE: 'accept' })]);
});
afterAll(async () => {
  await Promise.all([runtime?.stop(), resetRuntime?.stop()]);
});

describe.skipIf(!deno)('Deno', () => {
  describeEdgeBehaviour('Deno', { origin: () => origin, key: () => key, output: () => runtime?.output() ?? '' });
  describeResetClients('Deno', { origin: () => resetOrigin, key: () => key });
});
