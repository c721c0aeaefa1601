import { startDeno } from '../support/runtimes.js';
import { describeSocketRuntime } from './edge-behaviour.js';

/** The edge app on Deno (`Deno.serve`, peer from `info.remoteAddr`), bundled from the built package; HS256 stamps (workerd: ES256, Bun: Ed25519). */
describeSocketRuntime('Deno', 'deno', { alg: 'HS256', kid: 'deno-hs' }, startDeno);
