import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { createStampedFetch } from '../../client/index.js';
import { RefusalObserver, type ObservedRefusal } from '../../client/refusal-observer.node.js';
import { makeKey } from '../support/keys.js';

// The SDK acts on a refusal only when it is a verifier's: the status PROTOCOL §5 gives the
// reason, as problem+json. An application's own answer that happens to use the same word must
// not make the SDK send a request a second time.

const API = 'https://api.test';

function problem(status: number, reason: string, date: string): Response {
  return new Response(JSON.stringify({ type: 'about:blank', status, reason }), { status, headers: { 'content-type': 'application/problem+json', date } });
}

describe('createStampedFetch reacts only to 401 for expired, not-yet-valid and bad-ticket', () => {
  it('a 403 or a 400 "expired" dated 2 min away is the application’s answer: sent once, returned as it came', async () => {
    const key = await makeKey('ES256');
    const now = 1_800_000_000_000;
    for (const status of [400, 403]) {
      let calls = 0;
      const fetch = async (): Promise<Response> => {
        calls++;
        return problem(status, 'expired', new Date(now + 120_000).toUTCString());
      };
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', fetch, now: () => now });
      expect((await stampedFetch(`${API}/orders`, { method: 'POST', body: 'once' })).status).toBe(status);
      expect(calls).toBe(1);
    }
  });
});

describe('RefusalObserver (the interceptor’s view of a refusal)', () => {
  const handler: Dispatcher.DispatchHandler = {};
  const controller = {} as Dispatcher.DispatchController;

  function observe(body: string): ObservedRefusal[] {
    const seen: ObservedRefusal[] = [];
    const observer = new RefusalObserver(
      handler,
      (refusal) => seen.push(refusal),
      () => 0,
    );
    observer.onResponseStart(controller, 401, { 'content-type': 'application/problem+json', date: 'Sun, 06 Nov 1994 08:49:37 GMT' });
    const bytes = Buffer.from(body);
    for (let i = 0; i < bytes.length; i += 1000) observer.onResponseData(controller, bytes.subarray(i, i + 1000));
    observer.onResponseEnd(controller, {});
    return seen;
  }

  it('keeps at most 4096 bytes of a refusal: a longer body, even valid JSON with a reason, is not buffered and teaches nothing', () => {
    const head = '{"reason":"expired","pad":"';
    const sized = (n: number) => `${head}${'x'.repeat(n - head.length - 2)}"}`;
    expect(observe(sized(4096))).toEqual([{ status: 401, reason: 'expired', date: 'Sun, 06 Nov 1994 08:49:37 GMT', receivedAt: 0 }]);
    expect(observe(sized(4097))).toEqual([]);
  });
});
