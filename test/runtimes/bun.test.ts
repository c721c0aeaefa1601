import { resolve } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePorts } from '../support/ports.js';
import { bundleFixture, requireRuntime, startBun, type RunningRuntime } from '../support/runtimes.js';
import { describeEdgeBehaviour, describeResetClients } from './edge-behaviour.js';

/** The edge app on Bun (`Bun.serve`, peer from `server.requestIP`), bundled from the built package; Ed25519 stamps (workerd: ES256, Deno: HS256). */
const bun = requireRuntime('bun');
let runtime: RunningRuntime | undefined;
let origin = '';
let resetOrigin = '';
let resetRuntime: RunningRuntime | undefined;
let key: TestKeyPair;

beforeAll(async () => {
  if (!bun) return;
  key = await makeKey('Ed25519', 'bun-ed');
  const code = await bundleFixture(resolve(import.meta.dirname, 'fixtures/bun-server.ts'), 'bun');
  const [port, resetPort] = await freePorts(2);
  origin = `http://127.0.0.1:${port}`;
  resetOrigin = `http://127.0.0.1:${resetPort}`;
  const KEYS = JSON.stringify({ keys: [key.publicJwk] });
  [runtime, resetRuntime] = await Promise.all([startBun(bun, code, port!, { KEYS }), startBun(bun, code, resetPort!, { KEYS, ON_UNVERIFIABLE: 'accept' })]);
});
afterAll(async () => {
  await Promise.all([runtime?.stop(), resetRuntime?.stop()]);
});

describe.skipIf(!bun)('Bun', () => {
  describeEdgeBehaviour('Bun', { origin: () => origin, key: () => key, output: () => runtime?.output() ?? '' });
  describeResetClients('Bun', { origin: () => resetOrigin, key: () => key });
});
