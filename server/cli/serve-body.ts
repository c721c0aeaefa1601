import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { STAMP_HEADER } from '../../shared/constants.js';
import { keepRawBody, stampDeclaresBodyDigest } from '../fastify/raw-body.js';

/** Requests whose client waits for `100 Continue` before it sends the body, and their responses. */
const awaitingContinue = new WeakMap<IncomingMessage, ServerResponse>();

/**
 * `Expect: 100-continue` answered when the body is about to be read, not on arrival as Node
 * does by default. A client asks so that a refusal can come before it uploads (RFC 9110
 * §10.1.1): a stampless request, or a stamp that does not verify, is then refused with no
 * body sent, where Node's early `100` had it upload a body only to be refused, or cut off
 * mid-upload. A request refused without its `100` is answered with `Connection: close` (Node).
 */
export function deferContinue(server: Server): void {
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    // framed with no content: nothing to wait for, and the connection stays reusable
    if (request.headers['content-length'] === '0' && request.headers['transfer-encoding'] === undefined) response.writeContinue();
    else awaitingContinue.set(request, response);
    server.emit('request', request, response);
  });
}

/** The body is about to be read: a client still waiting for `100 Continue` gets it now. */
export function continueIfAwaited(request: IncomingMessage): void {
  const response = awaitingContinue.get(request);
  if (response === undefined) return;
  awaitingContinue.delete(request);
  if (!response.headersSent) response.writeContinue();
}

function tooLarge(): Error {
  return Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
}

/** Reads a body into one Buffer, failing with 413 as soon as it passes `limit` bytes. */
function readBounded(payload: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > limit) {
        payload.removeListener('data', onData);
        payload.removeListener('end', onEnd);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks, length));
    payload.on('data', onData);
    payload.once('end', onEnd);
    payload.once('error', reject);
  });
}

function declaredLengthExceeds(request: FastifyRequest, limit: number): boolean {
  const declared = Number(request.headers['content-length']);
  return Number.isFinite(declared) && declared > limit;
}

/**
 * The standalone verifier reads every body, of any type, as bytes (bounded by the app's
 * bodyLimit): it answers with the verdict and never interprets the body. Registered after the
 * plugin, so a stampless request refused in the plugin's preParsing never gets its `100`.
 */
export function acceptAnyBodyAsBytes(app: FastifyInstance): void {
  app.addHook('preParsing', (request, _reply, payload, done) => {
    continueIfAwaited(request.raw);
    done(null, payload);
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    keepRawBody(request, body as Buffer);
    done(null, body);
  });
}

/**
 * The verifying proxy forwards bodies untouched. A stamp that signs its body (`cdg`) needs
 * the bytes before the upstream sees them, so that body is buffered — up to `limit`, else
 * 413. Every other body is left as the request stream and piped to the upstream as it
 * arrives, never held in memory. Whether a stamp declares `cdg` is read from the token
 * before it is verified; that only decides buffering: a lie fails verification either way.
 * A client waiting for `100 Continue` gets it here for a body buffered before verification,
 * and from the proxy once the stamp has passed for one that streams.
 */
export function forwardBodiesUntouched(app: FastifyInstance, limit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    if (!stampDeclaresBodyDigest(request.headers[STAMP_HEADER])) {
      done(null, payload);
      return;
    }
    if (declaredLengthExceeds(request, limit)) {
      done(tooLarge(), undefined);
      return;
    }
    continueIfAwaited(request.raw);
    readBounded(payload as Readable, limit).then(
      (body) => {
        keepRawBody(request, body);
        done(null, body);
      },
      (error: Error) => done(error, undefined),
    );
  });
}
