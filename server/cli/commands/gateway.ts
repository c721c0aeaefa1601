import { UsageError } from '../usage-error.js';
import { serveOptionLines } from '../serve-flags.js';
import { run as serve } from './serve.js';

export const usage = `Usage: ipstamp gateway --upstream URL --keys FILE [options]

A verifying reverse proxy in front of an app in any language. A request whose stamp (or
ticket) verifies goes to URL with its method, path, query, body and Host as received (a path
in URL is a base: --upstream http://127.0.0.1:9000/api sends /x to /api/x). The upstream gets:

  X-Attested-Client-IP            the attested address
  X-Attested-Client-IP-Agreement  match | mismatch | unverifiable
  X-Attested-Client-IP-Source     stamp | ticket
  X-Attested-Client-IP-Issuer     the ticket's issuer (tickets only)
  X-Forwarded-For                 the address the gateway itself saw (after --trusted-proxies)
  X-Forwarded-Proto, -Host        the scheme and Host the client used
  Via                             the client's Via, then 1.1 ipstamp-<8 random hex digits>

Every client-sent header of those names but Via (any case, _ for -), every other
X-Forwarded-*, Forwarded and X-Real-IP, the stamp and ticket, and hop-by-hop headers
(Connection and what it names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
Proxy-Connection) stop here. Refusals never reach the upstream; they are problem+json with a
reason: the stamp's (401, 403, 503), body-too-large (413), rate-limited (429),
upstream-unavailable (502), upstream-timeout (504), upstream-loop (508: the request's Via
already names this process, so URL leads back here). GET /.well-known/ipstamp/ready answers
200 for health checks, 503 once SIGTERM came; SIGTERM lets requests in flight finish, then
exits. SIGHUP reads the keys again (see ipstamp serve --help).

Options (the same as ipstamp serve, --upstream required):
${serveOptionLines()}
`;

export async function run(argv: string[]): Promise<number> {
  if (!argv.some((arg) => arg === '--upstream' || arg.startsWith('--upstream='))) {
    throw new UsageError('gateway needs --upstream URL (the app to forward accepted requests to)');
  }
  return serve(argv, 'gateway');
}
