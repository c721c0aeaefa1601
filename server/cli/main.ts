#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { UsageError } from './usage-error.js';

/**
 * `ipstamp <command>`: each command lives in ./commands/<name>.js and exports
 * `run(argv): Promise<number>` (the exit code) and `usage` (its --help text).
 */
const COMMANDS: Readonly<Record<string, string>> = {
  serve: 'a standalone verifier, or a verifying reverse proxy (--upstream)',
  gateway: 'a verifying reverse proxy in front of any backend (serve with --upstream required)',
  keygen: 'make a client key and add its public half to a JWK Set',
  inspect: 'decode a stamp and explain it; with --keys, verify it offline',
  attack: 'run the replay/forgery attack catalog against a deployment',
  demo: 'the end-to-end demo (what `npm start` runs)',
};

interface Command {
  run(argv: string[]): Promise<number>;
  usage: string;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(width)}  ${what}`);
  return `ipstamp ${version()} — unforgeable client IP behind load balancers\n\nUsage: ipstamp <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nipstamp <command> --help   options of one command\nipstamp --version\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    process.stderr.write(`ipstamp: unknown command "${name}" (see ipstamp --help)\n`);
    return 2;
  }
  const command = (await import(`./commands/${name}.js`)) as Command;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`ipstamp ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

// `ipstamp demo | head` closes stdout early: that is the reader's choice, not a crash
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ipstamp: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
