import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedFlags {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** node:util parseArgs in strict mode, its errors turned into one-line UsageErrors naming the flag. */
export function parseFlags(argv: string[], options: Options, allowPositionals = false): ParsedFlags {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals }) as ParsedFlags;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ''));
  }
}
