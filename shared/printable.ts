/**
 * Text someone else wrote, made safe to print where an operator reads it: a terminal, a log.
 * Escaped are the characters a terminal acts on rather than shows: C0, DEL and C1 controls
 * (escape sequences that clear the screen, set the title, conceal text, make links), the bidi
 * and other format controls (U+202A–U+202E, U+2066–U+2069, …) that reorder or hide text, line
 * and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

/** `\u001b`; a character beyond U+FFFF (a tag character) as its two UTF-16 escapes, as JSON writes them. */
const escapedCode = (c: string): string => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/** `text` with each such character escaped JSON-style (`\u001b`). */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE_ALL, escapedCode);
}

/** `text` as it is when plain, else JSON-quoted with every such character escaped. */
export function printable(text: string): string {
  return UNSAFE.test(text) ? escapeControls(JSON.stringify(text)) : text;
}

/** `text` JSON-quoted whatever it holds, each such character escaped, and cut after `max` characters (`…`). */
export function quotedExcerpt(text: string, max: number): string {
  const quoted = escapeControls(JSON.stringify(text.slice(0, max)));
  return text.length > max ? `${quoted}…` : quoted;
}
