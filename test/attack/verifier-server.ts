import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { startVerifyingServer, type VerifyingServer } from '../support/verifying-server.js';

/**
 * The harness tests' verifier: the shared verifying server with the real PROXY connection layer
 * in front, `verify` deciding (tests swap it to open holes), and an accepted answer showing only
 * `{ ip, agreement }`, as a plain API would — so the harness cannot lean on ipstamp's own verdict.
 */
export type TestVerifierServer = VerifyingServer;

export interface TestVerifierOptions {
  verify(input: VerifyInput): Promise<VerifyResult>;
  /** Peers whose PROXY headers the connection layer honours (others are closed on sight). */
  proxyPeers: readonly string[];
  /** Serve https with this key and certificate (PEM), without the PROXY layer (it is not for TLS servers). */
  tls?: { key: string; cert: string };
  /** Serve only this route (the echo route aside): 404 for another path, 405 for another method. */
  route?: { method: string; path: string };
}

export function startVerifierServer({ verify, proxyPeers, tls, route }: TestVerifierOptions): Promise<TestVerifierServer> {
  return startVerifyingServer({
    verify,
    proxyPeers,
    ...(tls ? { tls } : {}),
    ...(route ? { only: route } : {}),
    acceptedBody: (verdict) => ({ ip: verdict?.ip, agreement: verdict?.agreement }),
  });
}
