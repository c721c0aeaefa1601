import { UsageError } from '../usage-error.js';
import { run as serve, usage as serveUsage } from './serve.js';

export const usage = `Usage: ipstamp gateway --upstream URL --keys FILE [options]

A verifying reverse proxy in front of an app in any language: \`ipstamp serve\` with
--upstream required. Accepted requests reach the upstream with X-Attested-Client-IP and
X-Attested-Client-IP-Agreement (client-sent copies removed); rejections never do.

${serveUsage.split('\n').slice(1).join('\n')}`;

export async function run(argv: string[]): Promise<number> {
  if (!argv.some((arg) => arg === '--upstream' || arg.startsWith('--upstream='))) {
    throw new UsageError('gateway needs --upstream URL (the app to forward accepted requests to)');
  }
  return serve(argv);
}
