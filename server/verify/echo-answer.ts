import { compiledOptionsOf, type Verifier } from './verifier.js';

/** The body of `GET /.well-known/ipstamp` (PROTOCOL.md §6). */
export interface EchoAnswer {
  /** The address this verifier observes for the caller (observed, else l3). */
  ip: string;
  /** This verifier's clock — the `now` of §5 steps 7–8 — in whole seconds, so a client with a wrong clock can sign with it. */
  time: number;
}

/** What every adapter's echo route answers: one place, so none can leave `time` out or read another clock. */
export function echoAnswer(verifier: Verifier, ip: string): EchoAnswer {
  return echoAnswerAt(ip, compiledOptionsOf(verifier).now());
}

/** The same answer at a given clock reading (ms), for glue that holds the clock but not the Node verifier (the web one). */
export function echoAnswerAt(ip: string, nowMs: number): EchoAnswer {
  return { ip, time: Math.floor(nowMs / 1000) };
}
