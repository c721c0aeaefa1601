import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedFlags {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * parseArgs refuses `--port -1` as "ambiguous" (the value looks like a flag). A value that
 * reads as a negative number is a value: joined here as `--port=-1`, so the flag's own
 * reader answers what a flag's range is, not the parser.
 */
function joinNegativeNumbers(argv: readonly string[], options: Options): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return [...joined, ...argv.slice(i)];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && Object.hasOwn(options, name) && options[name]!.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

/** node:util parseArgs in strict mode, its errors turned into one-line UsageErrors naming the flag. */
export function parseFlags(argv: string[], options: Options, allowPositionals = false): ParsedFlags {
  const args = joinNegativeNumbers(argv, options);
  try {
    return parseArgs({ args, options, strict: true, allowPositionals }) as ParsedFlags;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // "argument is ambiguous": a string flag followed by something that starts with a dash
      const at = args.findIndex((a, i) => a.startsWith('--') && Object.hasOwn(options, a.slice(2)) && args[i + 1]?.startsWith('-') === true);
      if (at !== -1) {
        const name = args[at]!.slice(2);
        const next = args[at + 1]!;
        const isFlag = next.startsWith('--') && Object.hasOwn(options, next.slice(2).split('=')[0]!);
        throw new UsageError(isFlag ? `--${name} needs a value` : `--${name} needs a value; to give one that starts with a dash, write --${name}=${next}`);
      }
    }
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ''));
  }
}
