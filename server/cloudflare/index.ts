/**
 * `ipstamp/cloudflare`: the replay store for Cloudflare Workers — a Durable Object class that
 * does the atomic insert-if-absent with expiry, and the `ReplayStore` that spreads keys over
 * its objects. No `node:` import and no `cloudflare:` import (it loads anywhere; workerd runs it).
 */
export { DurableObjectReplayStore, type DurableObjectReplayStoreOptions, type ReplayNamespace } from './durable-object-store.js';
export { IpStampReplayObject, type ReplayObjectState, type ReplayObjectStorage } from './replay-object.js';
