import type { Server, ServerOptions } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import { continueWhenBodyRead } from '../../hints/expect-continue.js';
import { createProxyProtocolServer } from '../../hints/proxy-connection.js';
import { ipstamp } from '../../fastify/plugin.js';
import { ARRIVAL_CHECK_MS, clientErrorAnswer, ConnectionLedger, timeOutArrivalsWhileDraining } from '../connections.js';
import { registerCorsAnswers } from '../cors-answers.js';
import { loosenedPolicies, loosenedPolicyNames } from '../../verify/loosened-policies.js';
import type { Verdict } from '../../verify/types.js';
import { registerReadiness, type Drain } from '../readiness.js';
import { openReplayStore } from '../replay-store-option.js';
import { acceptAnyBodyAsBytes, forwardBodiesUntouched } from '../serve-body.js';
import { readServeConfig, type ServeConfig } from '../serve-config.js';
import { optionErrorAsUsage, serveOptionLines } from '../serve-flags.js';
import { answerServiceErrorsAsProblems, frameworkErrorAsProblem } from '../service-refusals.js';
import { loadTelemetry } from '../telemetry-option.js';
import { registerUpstreamProxy } from '../upstream-proxy.js';
import { describeUpstream } from '../upstream-target.js';

export const usage = `Usage: ipstamp serve --keys FILE [options]

A standalone verifier. Without --upstream every stamped request (any path, any method) is
answered 200 with its verdict as JSON; with --upstream it is forwarded there, carrying
X-Attested-Client-IP and X-Attested-Client-IP-Agreement (see ipstamp gateway --help for all
it writes and strips). Rejections are problem+json; with --upstream and --report-only a
refused request is forwarded too, with X-Attested-Client-IP-Refusal and no attested address.
GET /.well-known/ipstamp (echo) and GET /.well-known/ipstamp/ready (readiness: 503 once
SIGTERM came) are served too, and the Prometheus counters where --metrics-path puts them
(nowhere unless given). SIGTERM finishes the requests in flight, then exits. SIGHUP reads --keys and
--issuer-key again (fetches --keys-url again); a file that does not pass keeps the keys in use.

${serveOptionLines()}
`;

function verdictBody(verdict: Verdict | null): Record<string, unknown> {
  if (verdict === null) throw new Error('ipstamp: an unverified request reached the verdict route');
  const { ip, agreement, kid, jti, iat, hints, source, issuer, replayChecked } = verdict;
  const body: Record<string, unknown> = { ip, agreement, kid, jti, iat, source, hints };
  if (issuer !== undefined) body.issuer = issuer;
  // only with --on-store-error accept: say so on the answer itself, not only in the log
  if (!replayChecked) body.replayChecked = false;
  return body;
}

/**
 * Node's bounds for a request still arriving, headers and body (--request-timeout): past it the
 * client gets 408 and the connection is closed, which frees the body read so far. They must be
 * given when the server is made: Fastify's `requestTimeout` alone is assigned afterwards, leaves
 * the headers timeout at 60 s, and Node then times the body by the larger of the two.
 */
function requestTimeouts(timeoutMs: number): ServerOptions {
  return {
    requestTimeout: timeoutMs,
    // Node refuses a headers timeout above the request timeout (ERR_OUT_OF_RANGE); this is its own default
    headersTimeout: Math.min(60_000, timeoutMs),
    connectionsCheckingInterval: ARRIVAL_CHECK_MS,
  };
}

function buildApp(config: ServeConfig, ledger: ConnectionLedger): FastifyInstance {
  let log: FastifyBaseLogger | undefined;
  const http = requestTimeouts(config.requestTimeoutMs);
  // per-request lines off: a verifier's log is its rejections (info) and warnings
  const options: FastifyHttpOptions<Server> = {
    logger: { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    http,
    // Fastify assigns its own (default 0: none, which would also switch off Node's 300 s)
    requestTimeout: config.requestTimeoutMs,
    // while draining, a request on a connection still open is served (with Connection: close);
    // only readiness answers 503, as problem+json (readiness.ts)
    return503OnClosing: false,
    clientErrorHandler: clientErrorAnswer(ledger),
    frameworkErrors: frameworkErrorAsProblem,
  };
  if (config.proxyProtocol) {
    const serverFactory: FastifyServerFactory<Server> = (handler) =>
      createProxyProtocolServer(handler, {
        http,
        trustedProxies: config.trustedRanges,
        // a trusted proxy configured for the PROXY protocol always sends it (HAProxy's health
        // checks too): a connection without one is a misconfiguration, closed where it shows
        proxyProtocol: 'required',
        onReject: (event) => log?.info({ proxyProtocol: event }, 'ipstamp: connection closed by the PROXY protocol layer'),
      });
    options.serverFactory = serverFactory;
  }
  const app = Fastify(options);
  log = app.log;
  return app;
}

function startLine(config: ServeConfig, address: string, storeLabel: string, command: string): string {
  const trusted = config.trustedRanges.length > 0 ? config.trustedRanges.join(',') : 'none';
  const keys = config.keys.describe();
  const proxy = config.proxyProtocol ? ' (PROXY protocol)' : '';
  const tickets = `${config.issuing ? ', issuing tickets' : ''}${config.issuerCount > 0 ? `, ${config.issuerCount} ticket issuer${config.issuerCount === 1 ? '' : 's'} trusted` : ''}`;
  const loosened = loosenedPolicyNames(loosenedPolicies(config.verifier));
  const loud = loosened.length > 0 ? `, LOOSENED: ${loosened.join(', ')}` : '';
  return `ipstamp ${command}: listening on ${address} — ${keys}, trusted proxies: ${trusted}${proxy}, store: ${storeLabel}${tickets}, upstream: ${config.upstream ? describeUpstream(config.upstream) : 'none'}${loud}\n`;
}

/**
 * Listens for SIGTERM/SIGINT; `done` resolves once the server and the store are closed. The
 * drain has no deadline of its own: requests in flight finish (--request-timeout bounds their
 * arrival, the upstream timeout the wait for their answer), then it exits. A second signal finds
 * no handler and ends the process at once.
 */
function untilStopped(app: FastifyInstance, drain: Drain, command: string, closeStore: () => Promise<void>): { done: Promise<number>; cancel(): void } {
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const cancel = (): void => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
  const done = new Promise<number>((resolve) => {
    stop = (signal) => {
      cancel();
      drain.begin();
      app.log.info(`ipstamp ${command}: ${signal}, shutting down`);
      app
        .close()
        .then(closeStore)
        .then(
          () => resolve(0),
          (error: unknown) => {
            app.log.error({ err: error }, `ipstamp ${command}: error while shutting down`);
            resolve(1);
          },
        );
    };
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return { done, cancel };
}

/**
 * SIGHUP reads the keys again (key-rotation.md): the new set is swapped in between two requests,
 * nothing else is touched (connections, the replay store), and a set that does not pass keeps
 * the keys in use, said in one line on stderr. Signals that come during a reload queue up.
 */
function reloadOnHangup(config: ServeConfig, print: (stream: 'stdout' | 'stderr', text: string) => void): () => void {
  let queue = Promise.resolve();
  const reload = (): void => {
    queue = queue.then(async () => {
      for (const keys of [config.keys, config.issuerKeys]) {
        if (keys === undefined) continue;
        const { ok, text } = await keys.reload();
        print(ok ? 'stdout' : 'stderr', `SIGHUP: ${text}`);
      }
    });
  };
  process.on('SIGHUP', reload);
  return () => void process.off('SIGHUP', reload);
}

export async function run(argv: string[], command: 'serve' | 'gateway' = 'serve'): Promise<number> {
  const config = readServeConfig(argv);
  const telemetry = config.telemetry ? await loadTelemetry() : undefined;
  let log: ((error: Error) => void) | undefined;
  const { store, label } = openReplayStore(config.replayStore, {
    timeoutMs: config.storeTimeoutMs,
    waitForReplicas: config.storeReplicas,
    onError: (error) => log?.(error),
  });
  const closeStore = async (): Promise<void> => {
    await store.close?.();
  };
  const ledger = new ConnectionLedger();
  const app = buildApp(config, ledger);
  ledger.watch(app.server);
  // a refusal before the body is read comes before the client uploads it
  continueWhenBodyRead(app.server);
  const arrivals = timeOutArrivalsWhileDraining(app.server, ledger, config.requestTimeoutMs);
  log = (error) => app.log.warn({ err: { message: error.message } }, `ipstamp ${command}: replay store connection error (failing closed meanwhile)`);
  let stopped: { done: Promise<number>; cancel(): void } | undefined;
  let stopReloading: (() => void) | undefined;
  try {
    answerServiceErrorsAsProblems(app);
    // before the plugin: a preflight is answered ahead of every other hook. With --upstream and
    // no --cors-origin the upstream owns CORS, and its preflights are forwarded to it.
    if (config.cors.origins.length > 0 || config.upstream === undefined) registerCorsAnswers(app, config.cors);
    const print = (stream: 'stdout' | 'stderr', text: string): void => void process[stream].write(`ipstamp ${command}: ${text}\n`);
    // as --keys-url's failed fetches are told: a plain line on stderr, naming the flag
    const onIssuerKeysError = (error: Error): void => print('stderr', `--issuers ${error.message}`);
    await app.register(ipstamp, { ...config.verifier, onIssuerKeysError, replayStore: store, echo: true, ...(telemetry && { telemetry }) });
    const readiness = registerReadiness(app);
    const drain: Drain = {
      begin() {
        readiness.begin();
        arrivals.begin();
      },
    };
    if (config.upstream) {
      forwardBodiesUntouched(app, config.bodyLimit);
      await registerUpstreamProxy(app, config.upstream, { timeoutMs: config.upstreamTimeoutMs, forwardedHeader: config.verifier.forwardedHeader });
    } else {
      acceptAnyBodyAsBytes(app);
      const answer = async (request: { ipStamp: Verdict | null }) => verdictBody(request.ipStamp);
      app.all('/', answer);
      app.all('/*', answer);
    }
    await config.keys.ready(print);
    // handlers first: a supervisor may signal the moment it reads the start line
    stopped = untilStopped(app, drain, command, closeStore);
    stopReloading = reloadOnHangup(config, print);
    void stopped.done.then(stopReloading);
    const address = await app.listen({ host: config.host, port: config.port });
    process.stdout.write(startLine(config, address, label, command));
  } catch (error) {
    stopped?.cancel();
    stopReloading?.();
    await app.close().catch(() => undefined);
    await closeStore();
    // the library checked the options the flags made: a refused one is told by its flag (exit 2)
    const usage = optionErrorAsUsage(error, config.flags);
    if (usage) throw usage;
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`ipstamp ${command}: cannot start: ${typeof code === 'string' ? `${code} ` : ''}${(error as Error).message}\n`);
    return 1;
  }
  return stopped.done;
}
