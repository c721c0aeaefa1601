import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { ipstamp, type IpStampPluginOptions } from '../../server/fastify/plugin.js';

/** Everything the app's logger wrote, one parsed JSON line each (and the raw text). */
export interface CapturedLog {
  readonly lines: Record<string, unknown>[];
  text(): string;
}

export function captureLog(): { stream: Writable; log: CapturedLog } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return {
    stream,
    log: {
      get lines() {
        return text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      },
      text: () => text,
    },
  };
}

/**
 * An app with the plugin and three routes: `/orders` (required), `/optional`
 * (`{ required: false }`) and `/open` (`false`). Each answers with what the handler saw.
 */
export async function buildApp(
  options: IpStampPluginOptions,
  before?: (app: FastifyInstance) => void | Promise<void>,
): Promise<{ app: FastifyInstance; log: CapturedLog }> {
  const { stream, log } = captureLog();
  const app = Fastify({ logger: { level: 'info', stream } });
  await before?.(app);
  await app.register(ipstamp, options);
  const seen = (request: { ipStamp: unknown; body: unknown }) => ({ ipStamp: request.ipStamp, body: request.body ?? null });
  app.all('/orders', async (request) => seen(request));
  app.all('/optional', { config: { ipstamp: { required: false } } }, async (request) => seen(request));
  app.all('/open', { config: { ipstamp: false } }, async (request) => seen(request));
  await app.ready();
  return { app, log };
}
