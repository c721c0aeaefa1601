import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { superviseProxyProcess, type RunningProxy } from './haproxy.js';

export type RunningNginx = RunningProxy;

export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/**
 * Runs nginx in the foreground on `body` (the `stream {}` / `http {}` blocks), wrapped in the
 * directives that keep everything inside a temp dir: pid, error log, every *_temp_path.
 * `{{DIR}}` in `body` is replaced by that dir. Resolves once every port in `listens` accepts.
 */
export async function startNginx(binary: string, body: string, listens: readonly number[]): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'ipstamp-nginx-'));
  const config = [
    body.includes('stream {') ? `load_module ${NGINX_STREAM_MODULE};` : '',
    'daemon off;',
    'master_process off;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    body
      .replaceAll('{{DIR}}', dir)
      .replace(
        'http {',
        `http {\n  access_log off;\n  client_body_temp_path ${dir}/client_body;\n  proxy_temp_path ${dir}/proxy;\n` +
          `  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;`,
      ),
  ].join('\n');
  const file = join(dir, 'nginx.conf');
  await writeFile(file, config);
  // -e: the error log before the config is read, else nginx first tries /var/log/nginx
  const child = spawn(binary, ['-c', file, '-p', dir, '-e', `${dir}/error.log`], { stdio: ['ignore', 'pipe', 'pipe'] });
  return superviseProxyProcess(child, dir, listens);
}
