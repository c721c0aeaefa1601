import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';

/** The request many verifier tests send: `GET https://api.example.com/a` from 192.0.2.7, carrying `stamp`. */
export function stampedGet(stamp: string): VerifyInput {
  return {
    method: 'GET',
    url: '/a',
    protocol: 'https',
    headers: { host: 'api.example.com', 'client-ip-attestation': stamp },
    hints: { l3: '192.0.2.7' },
  };
}

/** A verifier's answer in one word: `accepted`, or the reason it refused. */
export function outcomeOf(result: VerifyResult): string {
  return result.ok ? 'accepted' : result.reason;
}
