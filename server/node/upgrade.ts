import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Reason } from '../../shared/reasons.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from '../../shared/problem.js';
import type { Verdict, VerifyInput, VerifyResult } from '../verify/types.js';
import { endLingering } from '../hints/lingering-close.js';

/**
 * Verifies the handshake node:http hands to its `'upgrade'` event (a WebSocket, most often):
 * the verdict (null: no stamp, and none required; or, report-only, refused, the reason in
 * `req.ipStampRefusal`) when the caller may go on with the socket;
 * `undefined` when it must not, because the handshake was refused (the problem+json answer
 * written, the socket closing), or the client went away or the socket was ended meanwhile.
 * Rejects only when the verifier throws, which is a bug; the socket is destroyed then.
 */
export type VerifyUpgrade = (req: IncomingMessage, socket: Duplex) => Promise<Verdict | null | undefined>;

/**
 * `verifyNow` and `inputOf` are the middleware's own, so a handshake is checked exactly as a
 * request on the same server would be; `decided` is its set of requests already verified (and
 * let through); with `reportOnly` a refused handshake goes on as an unstamped one, the reason in
 * `req.ipStampRefusal`.
 */
export function upgradeVerifier(
  verifyNow: (input: VerifyInput) => VerifyResult | Promise<VerifyResult>,
  inputOf: (req: IncomingMessage) => VerifyInput,
  decided: WeakSet<IncomingMessage>,
  reportOnly: boolean,
): VerifyUpgrade {
  // A second call for a handshake (two 'upgrade' listeners that each check first, one per path)
  // gets the first call's outcome: verified again, the stamp would be refused as a replay, and
  // that refusal written on the socket the first call handed over.
  const outcomes = new WeakMap<IncomingMessage, Promise<Verdict | null | undefined>>();
  const verifyHandshake: VerifyUpgrade = async (req, socket) => {
    const stamped = req as { ipStamp?: Verdict | null; ipStampRefusal?: Reason | null };
    if (decided.has(req)) return stamped.ipStamp;
    stamped.ipStamp = null;
    // the handshake's outcome is this check's, not another call's report-only refusal before it
    if (reportOnly || stamped.ipStampRefusal != null) stamped.ipStampRefusal = null;
    // Node takes its own listeners off a socket it hands to 'upgrade': a reset while the
    // verdict is awaited (a Redis store) would be an 'error' nobody listens to, which ends
    // the process. Until the socket is handed back, this one is there.
    const ignore = (): void => undefined;
    socket.on('error', ignore);
    let result: VerifyResult;
    try {
      result = await verifyNow(inputOf(req));
    } catch (error) {
      socket.destroy();
      throw error;
    }
    // gone, or answered and ended by another 'upgrade' listener meanwhile: a verdict handed back
    // now would have the caller write on an ended socket, an 'error' nobody listens to
    if (!socket.writable) return undefined;
    if (!result.ok) {
      if (!reportOnly) {
        refuseUpgrade(socket, result.reason);
        return undefined;
      }
      // let through as an unstamped handshake: the socket is the caller's again
      socket.off('error', ignore);
      stamped.ipStampRefusal = result.reason;
      decided.add(req);
      return null;
    }
    socket.off('error', ignore);
    if (result.verdict !== null) decided.add(req);
    stamped.ipStamp = result.verdict;
    return result.verdict;
  };
  return (req, socket) => {
    let outcome = outcomes.get(req);
    if (outcome === undefined) {
      outcome = verifyHandshake(req, socket);
      outcomes.set(req, outcome);
    }
    return outcome;
  };
}

/**
 * The refusal a request would get (server/node/respond.ts), written by hand: an upgrade has no
 * response object. What the client sends behind its handshake is read and dropped: left unread,
 * it would hide the client's close (the socket then held for the whole linger), and a close
 * that finds it in the kernel's buffer resets the connection (RFC 9112 §9.6).
 */
function refuseUpgrade(socket: Duplex, reason: Reason): void {
  const problem = problemOf(reason);
  const body = Buffer.from(JSON.stringify(problem));
  const head =
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
    `content-type: ${PROBLEM_CONTENT_TYPE}\r\ncache-control: no-store\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  socket.resume();
  afterAnswersAhead(socket, () => endLingering(socket, Buffer.concat([Buffer.from(head, 'latin1'), body])));
}

/**
 * Node hands an upgrade over as soon as it is parsed, also while a request pipelined ahead of
 * it on the connection is still unanswered (its handler awaiting a database). A refusal written
 * then would reach the client first, read as that request's answer (RFC 9112 §9.3.2: answers
 * go in the order asked), and the answer would be cut off. So it waits for its turn: Node keeps
 * the answer being written as the socket's `_httpMessage`, and when that one finishes Node's own
 * 'finish' listener (added first) puts the next queued answer there, or none.
 */
function afterAnswersAhead(socket: Duplex, then: () => void): void {
  const ahead = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (ahead === null || ahead === undefined) return then();
  const gone = (): void => void ahead.off('finish', next);
  const next = (): void => {
    socket.off('close', gone);
    afterAnswersAhead(socket, then);
  };
  ahead.once('finish', next);
  socket.once('close', gone);
}
