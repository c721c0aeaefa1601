import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { STAMP_HEADER } from '../../shared/constants.js';
import { keepRawBody, stampDeclaresBodyDigest } from '../fastify/raw-body.js';

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
 * bodyLimit): it answers with the verdict and never interprets the body.
 */
export function acceptAnyBodyAsBytes(app: FastifyInstance): void {
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
 * A client waiting for `100 Continue` (continueWhenBodyRead) gets it for a buffered body
 * before verification, for one that streams once the stamp has passed and the proxy reads it.
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
    readBounded(payload as Readable, limit).then(
      (body) => {
        keepRawBody(request, body);
        done(null, body);
      },
      (error: Error) => done(error, undefined),
    );
  });
}
