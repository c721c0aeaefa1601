/**
 * `ipstamp/web`: the verifier for web-standard runtimes — Cloudflare Workers, Deno, Bun,
 * browsers, Node — on WebCrypto and a pure-JavaScript CIDR matcher. No `node:` module and no
 * Buffer in its module graph (test/package/web-graph.test.ts). The same pipeline as
 * `ipstamp/server`'s `createVerifier`; on Node that one stays the fast path.
 *
 * Every name is listed (no `export *`).
 */
export {
  createWebVerifier,
  type WebVerifier,
  type WebVerifierOptions,
  type WebVerifySettings,
  type WebVerifyOptions,
  type WebConnection,
} from './web-verifier.js';
export type { VerifyInput, VerifyResult, Verdict, NetworkHints, ConnectionHints, Agreement, HeaderMap } from '../verify/types.js';
export type { KeysOption, JwkSet, VerifierKeyInput, KeyWithAlg, NodeKeyObject } from '../verify/key-source.js';
export type { VerifierSettings } from '../verify/options.js';
export type { RequestScheme, SchemeSource } from '../verify/scheme.js';
export type { ProtoHeaderOption, Scheme } from '../hints/forwarded-proto.js';
export type { IssuersOption } from '../verify/ticket-verifier.js';
export { KeySetFetchError, isKeySetFetchError } from '../verify/key-set-fetches.js';
export { MemoryReplayStore, type MemoryReplayStoreOptions } from '../stores/memory.js';
export { ReplayStoreFullError, isReplayStoreFullError, type ReplayStore } from '../stores/replay-store.js';
export { isCorsPreflight, STAMP_REQUEST_HEADERS } from '../verify/cors-preflight.js';
export { IpStampError, isIpStampError } from '../../shared/errors.js';
export type { Reason } from '../../shared/reasons.js';
export { bunPeer, cloudflarePeer, denoPeer, type BunServerLike, type DenoServeInfoLike } from '../edge/runtime-peers.js';
