// Module hooks (node:module register) for loaded-modules.mjs: every URL the ESM loader loads —
// files and `node:` builtins — is posted to the main thread, in load order.
let port;

export function initialize(data) {
  port = data.port;
  // Answering on the same port after every URL already posted: once the main thread reads
  // this reply, it has read them all.
  port.on('message', () => port.postMessage({ flushed: true }));
}

export async function load(url, context, nextLoad) {
  port.postMessage({ url });
  return nextLoad(url, context);
}
