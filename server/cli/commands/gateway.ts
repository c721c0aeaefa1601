import { UsageError } from '../usage-error.js';
import { serveOptionLines } from '../serve-flags.js';
import { run as serve } from './serve.js';

export const usage = `Usage: ipstamp gateway --upstream URL --keys FILE [options]

A verifying reverse proxy in front of an app in any language. A request whose stamp (or
ticket) verifies goes to URL with its method, path, query, body and Host as received (a path
in URL is a base: --upstream http://127.0.0.1:9000/api sends /x to /api/x, and nothing
outside it). The upstream gets:

  X-Attested-Client-IP            the attested address
  X-Attested-Client-IP-Agreement  match | mismatch | unverifiable
  X-Attested-Client-IP-Source     stamp | ticket
  X-Attested-Client-IP-Issuer     the ticket's issuer (tickets only)
  X-Attested-Client-IP-Replay     unchecked: accepted without a replay check (--on-store-error
                                  accept while the store is down); absent otherwise
  X-Attested-Client-IP-Refusal    with --report-only, instead of the five above: why the stamp
                                  was refused (missing, expired, replay, ip-mismatch, ...)
  X-Forwarded-For                 the address the gateway itself saw (after --trusted-proxies)
  X-Forwarded-Proto               the scheme the client used
  X-Forwarded-Host                the host the stamp was bound to (--origin's, else Host's)
  Via                             the client's Via, then 1.1 ipstamp-<8 random hex digits>

Every client-sent header of those names but Via stops here in any spelling (any case, and
any character but a letter or digit for -, as CGI, FastCGI and Rack read them), and so do:
every X-Forwarded*; the address claims Forwarded, Forwarded-For, X-Real-IP, X-Client-IP,
Client-IP, True-Client-IP, X-True-Client-IP, Akamai-Client-IP, CF-Connecting-IP,
Fastly-Client-IP, Fly-Client-IP, X-Cluster-Client-IP, X-Original-Forwarded-For,
X-Originating-IP, X-Remote-IP, X-Remote-Addr, X-ProxyUser-IP, WL-Proxy-Client-IP,
Proxy-Client-IP, X-AppEngine-Remote-Addr, X-AppEngine-User-IP, X-Azure-ClientIP,
X-Azure-SocketIP, X-Envoy-External-Address and --forwarded-header's; the path overrides
X-Original-URL, X-Rewrite-URL and X-Override-URL; the method overrides
X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override; the stamp and ticket; and hop-by-hop
headers (Connection and what it names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
Proxy-Connection, Expect). An OPTIONS with Max-Forwards: 0 is answered by the gateway once
its stamp passed (with --report-only, also once it was refused): 200, Allow; a higher
Max-Forwards goes on lowered by one. A CORS preflight, forwarded unverified when
--cors-origin is not given, goes with no body and without Cookie, Authorization,
Proxy-Authorization and Content-*.

Refusals never reach the upstream; they are problem+json with a reason: the stamp's (401,
403, 503; with --report-only these go on, as above); bad-request-target (400, before the
stamp is checked: a target that is not a path, or has a . or .. segment however spelled:
%2e for ., %2f, %5c or \\ for / (also encoded again, %252e), ..;x; two Host lines; a
preflight with a body);
method-not-allowed (405: TRACE); body-too-large (413); rate-limited (429);
upstream-unavailable (502, also for an upstream status outside 200-599); upstream-timeout
(504); upstream-loop (508: the request's Via already names this process, so URL leads back
here); shutting-down (503). GET /.well-known/ipstamp/ready
answers 200 for health checks, 503 once SIGTERM came; SIGTERM lets requests in flight
finish, then exits. SIGHUP reads the keys again (see ipstamp serve --help).

Options (the same as ipstamp serve, --upstream required):
${serveOptionLines()}
`;

export async function run(argv: string[]): Promise<number> {
  if (!argv.some((arg) => arg === '--upstream' || arg.startsWith('--upstream='))) {
    throw new UsageError('gateway needs --upstream URL (the app to forward accepted requests to)');
  }
  return serve(argv, 'gateway');
}
