#!/usr/bin/env node
// `npm run example:browser` — serves the browser example at http://127.0.0.1:8787/
//   node examples/browser/server.mjs [--port N] [--host ADDRESS]
import { parseArgs } from 'node:util';
import { startExampleServer } from './example-server.mjs';

let values;
try {
  ({ values } = parseArgs({ options: { port: { type: 'string', default: '8787' }, host: { type: 'string', default: '127.0.0.1' } } }));
} catch {
  console.error('usage: node examples/browser/server.mjs [--port N] [--host ADDRESS]');
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('--port must be a number from 0 to 65535');
  process.exit(2);
}

try {
  const { url, close } = await startExampleServer({ host: values.host, port });
  // WebCrypto needs a secure context: http://127.0.0.1 and http://localhost count as one, other plain-http hosts do not.
  console.log(`ipstamp browser example: open ${url}`);
  const stop = () => close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(`ipstamp browser example: ${error.message}`);
  process.exit(1);
}
