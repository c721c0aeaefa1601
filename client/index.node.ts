// The `ipstamp/client/node` entry: everything the universal entry has, plus the Node-only
// pieces (TCP socket address, key files, the undici interceptor).
export * from './index.js';
export { createStampedFetch, type NodeStampedFetchOptions } from './stamped-fetch.node.js';
export { socketAddress, socketAddressPerOrigin, type SocketAddressOptions, type SocketAddressSettings } from './socket-address.node.js';
export { loadStampKey } from './key-file.node.js';
export { ipstampInterceptor, type StampInterceptorOptions } from './interceptor.node.js';
export type { NodeAddressOption } from './node-address-option.node.js';
