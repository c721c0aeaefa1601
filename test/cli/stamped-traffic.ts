import type { RunningServe } from '../support/cli-process.js';

/** One request to an `ipstamp serve` process, as the client saw it (times from `performance.now()`). */
export interface Answer {
  readonly server: RunningServe;
  /** Taken just before the request was handed to fetch (the stamp was already signed). */
  readonly sentAt: number;
  /** Taken once the whole body was read. */
  readonly answeredAt: number;
  readonly ms: number;
  /** 0 when no HTTP answer came at all (refused, reset, or no answer within 5 s). */
  readonly status: number;
  readonly contentType: string | null;
  /** The problem+json `reason`, for a rejection. */
  readonly reason: string | undefined;
  readonly body: string;
}

/** Sends GET `path` with the stamp; never throws, so a dead server shows up as `status: 0`. */
export async function sendStamped(server: RunningServe, path: string, token: string): Promise<Answer> {
  const sentAt = performance.now();
  let status = 0;
  let contentType: string | null = null;
  let body = '';
  try {
    // bounded: a server that hangs fails the test instead of stalling it
    const response = await fetch(`${server.url}${path}`, { headers: { 'client-ip-attestation': token }, signal: AbortSignal.timeout(5000) });
    body = await response.text();
    status = response.status;
    contentType = response.headers.get('content-type');
  } catch (error) {
    body = String(error);
  }
  const answeredAt = performance.now();
  const reason = contentType === 'application/problem+json' ? (JSON.parse(body) as { reason?: string }).reason : undefined;
  return { server, sentAt, answeredAt, ms: answeredAt - sentAt, status, contentType, reason, body };
}

export interface Traffic {
  /** Every request answered so far. */
  readonly answers: readonly Answer[];
  /** Ends the loop and resolves once every request it sent is answered. */
  stop(): Promise<Answer[]>;
}

/**
 * Every `everyMs`, `perTick` requests with fresh stamps to each server, fired without waiting
 * for earlier ones (a slow answer must not slow the traffic down). Bounded by `maxMs`.
 */
export function startTraffic(
  servers: readonly RunningServe[],
  stamp: (path: string) => Promise<string>,
  { everyMs = 50, perTick = 2, maxMs = 15_000 }: { everyMs?: number; perTick?: number; maxMs?: number } = {},
): Traffic {
  const answers: Answer[] = [];
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const fire = (server: RunningServe, n: number): void => {
    const request = stamp(`/flow/${n}`)
      .then((token) => sendStamped(server, `/flow/${n}`, token))
      .then((answer) => void answers.push(answer));
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };
  const loop = (async () => {
    const until = performance.now() + maxMs;
    for (let n = 0; !stopped && performance.now() < until; n++) {
      for (const server of servers) for (let i = 0; i < perTick; i++) fire(server, n);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    answers,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
      return answers;
    },
  };
}

/** Polls `check` every 25 ms until it holds; throws after `timeoutMs` naming what was awaited. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** What a crashed or sloppy process leaves in its output: unhandled errors and stack frames. */
export const CRASH_TRACES = /Unhandled|Uncaught|^\s+at .+:\d+:\d+\)?$/m;
