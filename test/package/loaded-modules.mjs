// `node loaded-modules.mjs <specifier>`: imports the specifier and prints, as JSON, every module
// loaded meanwhile — ESM URLs (`file://…`, `node:…`) from a loader hook, plus CommonJS files
// required by dependencies (`require.cache`) — and the import's duration and export names.
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const specifier = process.argv[2];
const { port1, port2 } = new MessageChannel();
const loaded = [];
let flushed;
port1.on('message', (message) => (message.url !== undefined ? loaded.push(message.url) : flushed?.()));
register('./record-loads.hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

const started = performance.now();
const module = await import(specifier);
const ms = performance.now() - started;
await new Promise((resolve) => {
  flushed = resolve;
  port1.postMessage('flush');
});
port1.close();
const required = Object.keys(createRequire(import.meta.url).cache).map((path) => `file://${path}`);
const modules = [...new Set([...loaded, ...required])].filter((url) => !url.endsWith('/loaded-modules.mjs'));
process.stdout.write(JSON.stringify({ specifier, ms, exports: Object.keys(module).sort(), modules }));
