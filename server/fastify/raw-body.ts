import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest, RequestPayload } from 'fastify';
import { STAMP_HEADER } from '../../shared/constants.js';
import { stampDeclaresBodyDigest } from '../jws/compact.js';
import { EMPTY_BODY, requestHasBody } from '../verify/request-body.js';

export { stampDeclaresBodyDigest };

/**
 * The exact body bytes of a request, for the `cdg` check (PROTOCOL.md §2.2).
 *
 * Two sources, so the body is never held twice:
 * - JSON and text/plain, Fastify's two built-in types: replacement parsers read the body
 *   as one Buffer (`parseAs: 'buffer'`, the same concatenation Fastify does anyway), keep it,
 *   and parse from it exactly as Fastify's defaults do. The handler still gets parsed JSON.
 * - Any other content type, parsed by the app's own parsers: a `preParsing` tee that keeps
 *   references to the chunks as they flow to the parser (no copy until the verifier needs
 *   one). It is only inserted when the stamp declares a `cdg`, so bodies nobody will hash
 *   are never retained, and it lets go of the chunks as soon as a parser hands over a Buffer.
 * A body the hook has not seen complete (a parser that streams inside the handler, an
 * overflow, a body on a method Fastify does not parse) stays unknown: the verifier then
 * refuses a `cdg` (`binding-mismatch`), never checking it against an empty body.
 */

interface Tee {
  chunks: Buffer[] | undefined;
  length: number;
  complete: boolean;
}

const keptBodies = new WeakMap<FastifyRequest, Buffer>();
const tees = new WeakMap<FastifyRequest, Tee>();

/** Hands the exact body bytes to the verifier (for apps and commands with their own parsers). */
export function keepRawBody(request: FastifyRequest, body: Buffer): void {
  keptBodies.set(request, body);
  const tee = tees.get(request);
  if (tee) tee.chunks = undefined;
}

/** The body bytes: empty for a request without one; undefined when they are unknown or incomplete. */
export function rawBodyOf(request: FastifyRequest): Uint8Array | undefined {
  const kept = keptBodies.get(request);
  if (kept !== undefined) return kept;
  const tee = tees.get(request);
  if (tee === undefined) return requestHasBody(request.raw) ? undefined : EMPTY_BODY;
  if (!tee.complete || tee.chunks === undefined) return undefined;
  return Buffer.concat(tee.chunks, tee.length);
}

/**
 * Fastify's methods without a body to parse (its `bodyless` set): no parser would ever read a
 * tee there, so the tee would hold the request's stream paused for good. Such a body stays
 * unknown instead.
 */
const UNPARSED_METHODS = new Set(['GET', 'HEAD', 'TRACE']);

const ignore = (): void => {};

/** preParsing: tee the payload of a stamped request whose stamp declares `cdg` (up to the route's body limit). */
export function teeStampedBody(request: FastifyRequest, payload: RequestPayload): RequestPayload {
  if (UNPARSED_METHODS.has(request.method) || !requestHasBody(request.raw) || !stampDeclaresBodyDigest(request.headers[STAMP_HEADER])) {
    return payload;
  }
  // read only here: each read of routeOptions builds a new object
  const limit = request.routeOptions.bodyLimit;
  const tee: Tee = { chunks: [], length: 0, complete: false };
  tees.set(request, tee);
  const transform = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (tee.chunks !== undefined) {
        tee.length += chunk.length;
        // past the route's body limit the parser fails anyway; stop holding memory for it
        if (tee.length > limit) tee.chunks = undefined;
        else tee.chunks.push(chunk);
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback): void {
      tee.complete = true;
      callback();
    },
  });
  payload.on('error', (error) => transform.destroy(error));
  // a client that resets mid-body errors the tee; a parser reading it gets that error through
  // its own listener, but with no parser reading (yet) an 'error' nobody listens for would end
  // the process. Fastify answers the reset request itself.
  transform.on('error', ignore);
  return payload.pipe(transform) as unknown as RequestPayload;
}

/**
 * Replaces Fastify's default JSON and text/plain parsers with Buffer-keeping twins. An app
 * that already installed its own parser for one of them keeps it (the tee covers that type).
 */
export function installRawBodyParsers(fastify: FastifyInstance): void {
  const config = fastify.initialConfig;
  const parseJson = fastify.getDefaultJsonParser(config.onProtoPoisoning ?? 'error', config.onConstructorPoisoning ?? 'error');
  const replaceDefault = (type: string, parse: (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => void): void => {
    try {
      fastify.addContentTypeParser(type, { parseAs: 'buffer' }, (request, body, done) => {
        keepRawBody(request, body as Buffer);
        parse(request, body as Buffer, done);
      });
    } catch (error) {
      if ((error as { code?: string }).code !== 'FST_ERR_CTP_ALREADY_PRESENT') throw error;
    }
  };
  // secure-json-parse reads a Buffer as UTF-8, the same as the string Fastify would hand it
  replaceDefault('application/json', (request, body, done) => void parseJson(request, body as unknown as string, done));
  replaceDefault('text/plain', (_request, body, done) => done(null, body.toString('utf8')));
}
