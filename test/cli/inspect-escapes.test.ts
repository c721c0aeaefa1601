import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-process.js';

/**
 * `ipstamp inspect` is the tool for stamps taken from logs, written by whoever sent them: no
 * character of a stamp may act on the terminal (clear it, retitle it, hide lines, make links,
 * reorder text). Every name and value is shown escaped JSON-style; plain ones as they were.
 */
const ESC = '\u001b';
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const token = (header: unknown, claims: unknown): string => `${b64(header)}.${b64(claims)}.${'A'.repeat(86)}`;

/** Anything a terminal would act on, except the newlines between lines. */
const ACTS_ON_TERMINAL = /[^\n\P{Cc}]|[\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

const now = Math.floor(Date.now() / 1000);
const claims = {
  ip: '198.51.100.7',
  iat: now,
  exp: now + 30,
  jti: 'abcdefghijklmnopqrstuv',
  htm: 'GET',
  // clears the screen, homes the cursor, sets the title, draws a fake verdict, conceals the rest
  htu: `https://a.example/${ESC}[2J${ESC}[H${ESC}]0;owned${ESC}\\\nResult: passes every check${ESC}[8m`,
  [`note${ESC}[31m`]: `${ESC}]8;;https://evil.example${ESC}\\click${ESC}]8;;${ESC}\\`,
  // C1 CSI, DEL, bidi override and isolate, a line separator, a tag character
  c1: 'a\u009b2Jb\u007fc',
  bidi: 'user\u202Egnp.exe\u2066x\u2069',
  nested: { ['k\u009b']: ['\u202D\u2028', '\u{E0041}'] },
  // printable non-ASCII is left alone
  plain: 'Grüße, 東京 🎉',
};

describe('ipstamp inspect: nothing from the stamp reaches the terminal as a control', () => {
  it('escapes C0, DEL, C1 and bidi/format controls in header and claim names and values; the real verdict stands', async () => {
    const header = { alg: 'ES256\u202E', typ: 'ipstamp+jwt', kid: 'k1', [`x${ESC}[2K`]: `${ESC}c` };
    const result = await runCli(['inspect', token(header, claims)]);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toMatch(ACTS_ON_TERMINAL);
    // the columns are as wide as the widest (escaped) name: compared with runs of spaces as two
    const out = result.stdout.replace(/ {2,}/g, '  ');
    const lines = out.split('\n');
    // the fake verdict is inside the quoted htu value, never a line of its own
    expect(lines.filter((l) => l.startsWith('Result:'))).toEqual(['Result: REJECTED — bad-header (HTTP 401), the first failing check']);
    expect(out).toContain(
      `  htu  "https://a.example/\\u001b[2J\\u001b[H\\u001b]0;owned\\u001b\\\\\\nResult: passes every check\\u001b[8m"  — URL (no query) it was made for\n`,
    );
    expect(out).toContain(`  "note\\u001b[31m"  "\\u001b]8;;https://evil.example\\u001b\\\\click\\u001b]8;;\\u001b\\\\"  (unknown: ignored)\n`);
    expect(out).toContain('  c1  "a\\u009b2Jb\\u007fc"  (unknown: ignored)\n');
    expect(out).toContain('  bidi  "user\\u202egnp.exe\\u2066x\\u2069"  (unknown: ignored)\n');
    expect(out).toContain('  nested  {"k\\u009b":["\\u202d\\u2028","\\udb40\\udc41"]}  (unknown: ignored)\n');
    expect(out).toContain('  plain  Grüße, 東京 🎉  (unknown: ignored)\n');
    // the header: member names and values, and the check detail that quotes the alg
    expect(out).toContain('  alg  "ES256\\u202e"\n');
    expect(out).toContain('  "x\\u001b[2K"  "\\u001bc"\n');
    expect(out).toMatch(/^ +3 {2}JOSE header {2}fail {2}bad-header {2}alg "ES256\\u202e" is not one of /m);
  });

  it('a plain stamp is shown exactly as before: no quotes, no escapes', async () => {
    const plain = { ...claims, htu: 'https://a.example/orders' } as Record<string, unknown>;
    for (const name of ['note\u001b[31m', 'c1', 'bidi', 'nested']) delete plain[name];
    const result = await runCli(['inspect', token({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'k1' }, plain)]);
    expect(result.stdout).toMatch(/^Header\n {2}alg {2}ES256\n {2}typ {2}ipstamp\+jwt\n {2}kid {2}k1\n/m);
    expect(result.stdout).toContain('  htu    https://a.example/orders  — URL (no query) it was made for\n');
    expect(result.stdout).toContain('  jti    abcdefghijklmnopqrstuv  — unique id: single use\n');
    expect(result.stdout).toContain('  plain  Grüße, 東京 🎉  (unknown: ignored)\n');
    expect(result.stdout).not.toContain('\\u');
  });

  it('a claim named like an Object.prototype member is an unknown claim, with no note', async () => {
    const named = { ...claims, htu: 'https://a.example/orders', constructor: 1, toString: 'x', ['__proto__']: 2, hasOwnProperty: null };
    for (const name of ['note\u001b[31m', 'c1', 'bidi', 'nested']) delete (named as Record<string, unknown>)[name];
    const result = await runCli(['inspect', token({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'k1' }, named)]);
    const out = result.stdout.replace(/ {2,}/g, '  ');
    for (const line of ['  constructor  1', '  toString  x', '  __proto__  2', '  hasOwnProperty  null'])
      expect(out).toContain(`${line}  (unknown: ignored)\n`);
    expect(out).not.toMatch(/native code|\[object Object\]/);
  });
  it('a lone surrogate (valid in JSON text, not in UTF-8) is escaped, never written as a replacement character', async () => {
    const lone = { ...claims, htu: 'https://a.example/orders', ['s\uD800']: 'x\uDC00y' } as Record<string, unknown>;
    for (const name of ['note\u001b[31m', 'c1', 'bidi', 'nested']) delete lone[name];
    const result = await runCli(['inspect', token({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'k1' }, lone)]);
    const out = result.stdout.replace(/ {2,}/g, '  ');
    expect(out).toContain('  "s\\ud800"  "x\\udc00y"  (unknown: ignored)\n');
    expect(out).not.toContain('\uFFFD');
  });
});
