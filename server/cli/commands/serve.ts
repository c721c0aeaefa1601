import type { Server } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import { createProxyProtocolServer } from '../../hints/proxy-connection.js';
import { ipstamp } from '../../fastify/plugin.js';
import { registerCorsAnswers } from '../cors-answers.js';
import { loosenedPolicies, loosenedPolicyNames } from '../../verify/loosened-policies.js';
import type { Verdict } from '../../verify/types.js';
import { registerReadiness, type Drain } from '../readiness.js';
import { openReplayStore } from '../replay-store-option.js';
import { acceptAnyBodyAsBytes, forwardBodiesUntouched } from '../serve-body.js';
import { readServeConfig, type ServeConfig } from '../serve-config.js';
import { answerServiceErrorsAsProblems } from '../service-refusals.js';
import { registerUpstreamProxy } from '../upstream-proxy.js';
import { describeUpstream } from '../upstream-target.js';

export const usage = `Usage: ipstamp serve --keys FILE [options]

A standalone verifier. Without --upstream every stamped request (any path, any method) is
answered 200 with its verdict as JSON; with --upstream it is forwarded there, carrying
X-Attested-Client-IP and X-Attested-Client-IP-Agreement (see ipstamp gateway --help for all
it writes and strips). Rejections are problem+json.
GET /.well-known/ipstamp (echo), GET /.well-known/ipstamp/ready (readiness: 503 once
SIGTERM came) and GET /metrics (Prometheus) are served too. SIGTERM finishes the requests
in flight, then exits.

  --keys FILE                 JWK Set of client keys (required unless --issuers is given)
  --host HOST                 address to listen on (default 127.0.0.1)
  --port PORT                 port (default 8080; 0 = any free port, printed at start)
  --trusted-proxies CIDRS     your proxies: CIDRs or loopback/private/linklocal/uniquelocal,
                              comma-separated or repeated
  --proxy-protocol            read a PROXY v1/v2 header from trusted proxies (they must send
                              one); other peers are served plain HTTP
  --forwarded-header NAME     the one forwarding header your proxies write (default x-forwarded-for)
  --proto-header NAME|none    where your proxies write the client's scheme: x-forwarded-proto or
                              forwarded (default: forwarded with --forwarded-header forwarded, else
                              x-forwarded-proto); a PROXY v2 SSL TLV comes first
  --max-age S                 stamp lifetime in seconds (default 30)
  --skew S                    clock skew tolerated in seconds (default 5)
  --on-mismatch reject|flag   attested ip disagrees with the network (default reject)
  --on-unverifiable accept|reject   network cannot tell (default reject)
  --require-body-digest       refuse stamps without cdg
  --origin URL                public origin(s) htu may name (default: the Host header)
  --replay-store SPEC         where used stamps are remembered: memory (default) or
                              redis://HOST:PORT[/DB], shared by every instance
  --store-timeout MS          longest wait for the replay store (default 200 for Redis)
  --on-store-error reject|accept   replay store down: 503 (default) or accept UNCHECKED
  --issuer-key FILE           also issue tickets (PROTOCOL §7), signed with this private
                              ES256/EdDSA JWK; publishes /.well-known/ipstamp/issuer-jwks
  --issuer-origin URL         the iss written into tickets (default: the origin the proof names)
  --ticket-lifetime S         ticket lifetime in seconds (default 300, at most 600)
  --ticket-rate-limit N       ticket requests per observed address per minute (default 30; 0 = off)
  --issuers FILE              ticket issuers to trust: {"https://edge.example": <JWK Set> | "<jwks URL>"}
  --upstream URL              forward accepted requests to this http(s) URL; a path is a base
                              (http://127.0.0.1:9000/api sends /x to /api/x)
  --upstream-timeout S        longest wait for the upstream to connect, answer, or send the
                              next body chunk, else 504 upstream-timeout (default 60)
  --cors-origin URL           a page origin that may call from another origin (repeatable):
                              serve answers CORS preflights itself and adds the CORS headers
                              to every answer, refusals too. Preflights are never verified;
                              without this flag, --upstream forwards them (no attested address)
  --body-limit BYTES          largest body read (default 1048576; with --upstream only cdg bodies are read)
  --log-level LEVEL           fatal|error|warn|info|debug|trace|silent (default info)
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

function buildApp(config: ServeConfig): FastifyInstance {
  let log: FastifyBaseLogger | undefined;
  // per-request lines off: a verifier's log is its rejections (info) and warnings
  const options: FastifyHttpOptions<Server> = {
    logger: { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // while draining, a request on a connection still open is served (with Connection: close);
    // only readiness answers 503, as problem+json (readiness.ts)
    return503OnClosing: false,
  };
  if (config.proxyProtocol) {
    const serverFactory: FastifyServerFactory<Server> = (handler) =>
      createProxyProtocolServer(handler, {
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
  const keys = `${config.keyCount} key${config.keyCount === 1 ? '' : 's'} from ${config.keysFile}`;
  const proxy = config.proxyProtocol ? ' (PROXY protocol)' : '';
  const tickets = `${config.issuing ? ', issuing tickets' : ''}${config.issuerCount > 0 ? `, ${config.issuerCount} ticket issuer${config.issuerCount === 1 ? '' : 's'} trusted` : ''}`;
  const loosened = loosenedPolicyNames(loosenedPolicies(config.verifier));
  const loud = loosened.length > 0 ? `, LOOSENED: ${loosened.join(', ')}` : '';
  return `ipstamp ${command}: listening on ${address} — ${keys}, trusted proxies: ${trusted}${proxy}, store: ${storeLabel}${tickets}, upstream: ${config.upstream ? describeUpstream(config.upstream) : 'none'}${loud}\n`;
}

/**
 * Listens for SIGTERM/SIGINT; `done` resolves once the server and the store are closed. The
 * drain has no deadline of its own: requests in flight finish (the upstream timeout bounds
 * them), then it exits. A second signal finds no handler and ends the process at once.
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

export async function run(argv: string[], command: 'serve' | 'gateway' = 'serve'): Promise<number> {
  const config = readServeConfig(argv);
  let log: ((error: Error) => void) | undefined;
  const { store, label } = openReplayStore(config.replayStore, { timeoutMs: config.storeTimeoutMs, onError: (error) => log?.(error) });
  const closeStore = async (): Promise<void> => {
    await store.close?.();
  };
  const app = buildApp(config);
  log = (error) => app.log.warn({ err: { message: error.message } }, `ipstamp ${command}: replay store connection error (failing closed meanwhile)`);
  let stopped: { done: Promise<number>; cancel(): void } | undefined;
  try {
    answerServiceErrorsAsProblems(app);
    // before the plugin: a preflight is answered ahead of every other hook. With --upstream and
    // no --cors-origin the upstream owns CORS, and its preflights are forwarded to it.
    if (config.corsOrigins.length > 0 || config.upstream === undefined) registerCorsAnswers(app, { origins: config.corsOrigins });
    await app.register(ipstamp, { ...config.verifier, replayStore: store, echo: true, metrics: true });
    const drain = registerReadiness(app);
    if (config.upstream) {
      forwardBodiesUntouched(app, config.bodyLimit);
      await registerUpstreamProxy(app, config.upstream, { timeoutMs: config.upstreamTimeoutMs, forwardedHeader: config.verifier.forwardedHeader });
    } else {
      acceptAnyBodyAsBytes(app);
      const answer = async (request: { ipStamp: Verdict | null }) => verdictBody(request.ipStamp);
      app.all('/', answer);
      app.all('/*', answer);
    }
    // handlers first: a supervisor may signal the moment it reads the start line
    stopped = untilStopped(app, drain, command, closeStore);
    const address = await app.listen({ host: config.host, port: config.port });
    process.stdout.write(startLine(config, address, label, command));
  } catch (error) {
    stopped?.cancel();
    await app.close().catch(() => undefined);
    await closeStore();
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`ipstamp ${command}: cannot start: ${typeof code === 'string' ? `${code} ` : ''}${(error as Error).message}\n`);
    return 1;
  }
  return stopped.done;
}
