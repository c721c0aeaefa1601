import { chromium, type Browser, type Page } from 'playwright-core';
import { requireBinary } from './binaries.js';

/** Debian's chromium, headless, with everything that would reach beyond loopback switched off. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** The chromium binary, or undefined (with a loud warning) so tests skip; under CI=true, throws. */
export function chromiumPath(): string | undefined {
  return requireBinary('chromium');
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** What a page said on its console at level error, and the exceptions it did not catch. */
export interface PageProblems {
  readonly errors: string[];
}

export function collectPageProblems(page: Page): PageProblems {
  const problems: PageProblems = { errors: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') problems.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.errors.push(`pageerror: ${error.message}`));
  return problems;
}
