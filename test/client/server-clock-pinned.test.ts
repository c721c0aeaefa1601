import { describe, expect, it } from 'vitest';
import { createStampedFetch } from '../../client/index.js';
import { createServerClocks } from '../../client/server-clock.js';
import { makeKey } from '../support/keys.js';

// What the client learns of a server's clock decides the iat of every later stamp to that
// origin. These pin the edges of that learning: when an answer teaches nothing, how far a
// correction may go, where it lands, and that the memory of it stays bounded.

const API = 'https://api.test';

describe('createServerClocks().learn: the edges', () => {
  it('an answer whose window just includes the correction in use teaches nothing (learn → false): the retry it would cause is avoided', () => {
    const clocks = createServerClocks({ now: () => 0 });
    // Sent at 9 s, answered at 10 s, dated 10 s: the server was between 0 and +2 s of us; 0 fits, at the low edge.
    expect(clocks.learn(API, 10_000, 9_000, 10_000)).toBe(false);
    // Dated 8 s: the server was between −2 s and 0 of us; 0 fits, at the high edge.
    expect(clocks.learn(API, 8_000, 9_000, 10_000)).toBe(false);
    expect(clocks.correction(API)).toBe(0);
  });

  it('a clock that was corrected and then agrees with the server again goes back to exactly 0, not to the middle of the window', () => {
    const clocks = createServerClocks({ now: () => 0 });
    expect(clocks.learn(API, 120_000, 0, 0)).toBe(true);
    expect(clocks.correction(API)).toBe(120_500);
    // The server now says what our own clock says (within the whole second it wrote): no correction at all.
    expect(clocks.learn(API, 0, 0, 0)).toBe(true);
    expect(clocks.correction(API)).toBe(0);
  });

  it('a correction of exactly maxClockCorrectionMs is applied (the bound is inclusive, as documented: "at most")', () => {
    const clocks = createServerClocks({ now: () => 0, maxCorrectionMs: 120_000 });
    // Sent and answered at 0.5 s, dated 120 s: the window is [119.5 s, 120.5 s], its middle exactly the bound.
    expect(clocks.learn(API, 120_000, 500, 500)).toBe(true);
    expect(clocks.correction(API)).toBe(120_000);
    const beyond = createServerClocks({ now: () => 0, maxCorrectionMs: 119_999 });
    expect(beyond.learn(API, 120_000, 500, 500)).toBe(false);
    expect(beyond.correction(API)).toBe(0);
  });

  it('remembers at most 256 origins: the oldest correction is forgotten, so a client talking to many hosts does not grow without bound', () => {
    const clocks = createServerClocks({ now: () => 0 });
    for (let i = 0; i <= 256; i++) expect(clocks.learn(`https://h${i}.test`, 120_000, 0, 0)).toBe(true);
    expect(clocks.correction('https://h0.test')).toBe(0);
    expect(clocks.correction('https://h1.test')).toBe(120_500);
    expect(clocks.correction('https://h256.test')).toBe(120_500);
  });
});

describe('createStampedFetch: a slow answer is not mistaken for a wrong clock', () => {
  it('a 401 expired whose Date lies between when the request left and when the answer came is returned as it came: one request', async () => {
    const key = await makeKey('ES256');
    const T = 1_800_000_000_000; // a whole second
    let clock = T;
    let calls = 0;
    const slowFetch = async (): Promise<Response> => {
      calls++;
      // The server read its clock 2 s after the request left (its Date says so) and the answer took 3 s in all.
      const date = new Date(clock + 2_000).toUTCString();
      clock += 3_000;
      return new Response(JSON.stringify({ type: 'about:blank', status: 401, reason: 'expired' }), {
        status: 401,
        headers: { 'content-type': 'application/problem+json', date },
      });
    };
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', fetch: slowFetch, now: () => clock });
    const response = await stampedFetch(`${API}/orders`);
    expect(response.status).toBe(401);
    // Our clock agrees with that Date once the round trip is counted: signing again would carry the same time.
    expect(calls).toBe(1);
  });
});
