import { startBun } from '../support/runtimes.js';
import { describeSocketRuntime } from './edge-behaviour.js';

/** The edge app on Bun (`Bun.serve`, peer from `server.requestIP`), bundled from the built package; Ed25519 stamps (workerd: ES256, Deno: HS256). */
describeSocketRuntime('Bun', 'bun', { alg: 'Ed25519', kid: 'bun-ed' }, startBun);
