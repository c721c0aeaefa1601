import { request as httpRequest } from 'node:http';
import { afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { createStamper } from '../../client/index.js';
import { makeKey, type TestKeyPair } from './keys.js';

/**
 * What the "someone else answered first" files of the Fastify plugin and Hono
 * (test/plugin/late-answer.test.ts, test/hono/late-answer.test.ts) share around their apps,
 * which stay in each file: the file's key, no unhandled rejection left by any test, and a
 * client that goes away while its verdict is awaited.
 */
export interface LateAnswerFile {
  /** The file's HS256 key (kid `late-answer`), made before its first test. */
  readonly key: TestKeyPair;
  /** A stamp of `GET /orders` on `origin`, from 127.0.0.1, without `cdg`. */
  stampFor(origin: string): Promise<string>;
}

/**
 * Registers the file's hooks: its key before all tests; after each, `closeApps` (the test's
 * apps, so that a rejection their closing causes counts too), then no unhandled rejection.
 */
export function lateAnswerFile(closeApps: () => Promise<unknown>): LateAnswerFile {
  let key: TestKeyPair | undefined;
  const unhandled: unknown[] = [];
  const recordUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeAll(async () => {
    key = await makeKey('HS256', 'late-answer');
  });
  beforeEach(() => void process.on('unhandledRejection', recordUnhandled));
  afterEach(async () => {
    await closeApps();
    process.off('unhandledRejection', recordUnhandled);
    expect(unhandled.splice(0)).toEqual([]);
  });
  const fileKey = (): TestKeyPair => {
    if (key === undefined) throw new Error('the late-answer key is made in beforeAll: read it in a test or a hook');
    return key;
  };
  return {
    get key() {
      return fileKey();
    },
    stampFor: (origin) => createStamper({ key: fileKey().privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/orders` }),
  };
}

/**
 * Sends `GET /orders` on `origin` with `token` and destroys the connection once `asked` (the
 * store was asked, so the verdict is awaited): resolves when the client's side has closed, the
 * request never answered.
 */
export async function leaveWhileAwaited(origin: string, token: string, asked: Promise<void>): Promise<void> {
  const gone = httpRequest(`${origin}/orders`, { agent: false, headers: { 'client-ip-attestation': token } });
  const closed = new Promise((resolve) => gone.on('error', resolve));
  gone.end();
  await asked;
  gone.destroy();
  await closed;
}
