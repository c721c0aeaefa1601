/**
 * bench/native-profile.js names each JIT frame of a `perf` sample by the server's perf map
 * itself, because perf names an address by the first entry that covers it, and V8 reuses the
 * bytes of freed code: a loaded server's insert was charged to a module's top level
 * (bench/README.md, "Fourteenth pass"). The bench's profiles rest on this lookup.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readPerfMap } from '../../bench/native-profile.js';

const dir = mkdtempSync(join(tmpdir(), 'ipstamp-perf-map-'));
let serial = 0;

function mapFile(lines: string[]): string {
  const file = join(dir, `perf-${serial++}.map`);
  writeFileSync(file, lines.map((line) => `${line}\n`).join(''));
  return file;
}

describe('readPerfMap', () => {
  it('names reused bytes by the entry written last, and the rest by the one that covers them', () => {
    const file = mapFile([
      '7f0000001000 200 JS:^ node_modules/fast-json-stringify/lib/serializer.js:1:1',
      '7f0000002000 40 JS:*verifyNow dist/server/verify/verifier.js:75:23',
      '7f0000001100 80 JS:*insert dist/server/stores/fingerprint-table.js:112:11',
    ]);
    const map = readPerfMap(file);
    expect(map.nameAt(0x7f0000001150)).toBe('JS:*insert dist/server/stores/fingerprint-table.js:112:11');
    expect(map.nameAt(0x7f0000001010)).toBe('JS:^ node_modules/fast-json-stringify/lib/serializer.js:1:1');
    expect(map.nameAt(0x7f0000001190)).toBe('JS:^ node_modules/fast-json-stringify/lib/serializer.js:1:1');
    expect(map.nameAt(0x7f000000203f)).toBe('JS:*verifyNow dist/server/verify/verifier.js:75:23');
    expect(map.nameAt(0x7f0000002040)).toBe('[unknown JIT code]');
    expect(map.nameAt(0x7f0000000fff)).toBe('[unknown JIT code]');
  });

  it('skips a line that is not "start size name" and still names the others', () => {
    const file = mapFile([
      'not a map line',
      '7f0000001000 200 JS:*verifyNow a.js:1:2',
      'zz 10 JS:*x b.js:1:2',
      '7f0000003000 0 JS:*empty c.js:1:2',
      '',
      '7f0000002000 40 JS:*insert d.js:1:2',
    ]);
    const map = readPerfMap(file);
    expect(map.nameAt(0x7f0000001010)).toBe('JS:*verifyNow a.js:1:2');
    expect(map.nameAt(0x7f0000002010)).toBe('JS:*insert d.js:1:2');
    expect(map.nameAt(0x7f0000003000)).toBe('[unknown JIT code]');
  });

  it('ignores what was written after the recording stopped, and a line cut off by it', () => {
    const first = '7f0000001000 200 JS:^ node_modules/fast-json-stringify/lib/serializer.js:1:1';
    const file = mapFile([first, '7f0000001100 80 JS:*insert dist/server/stores/fingerprint-table.js:112:11']);
    const stoppedMidLine = first.length + 1 + 20;
    expect(readPerfMap(file, stoppedMidLine).nameAt(0x7f0000001150)).toBe('JS:^ node_modules/fast-json-stringify/lib/serializer.js:1:1');
    expect(readPerfMap(file, first.length + 1).nameAt(0x7f0000001150)).toBe('JS:^ node_modules/fast-json-stringify/lib/serializer.js:1:1');
    expect(readPerfMap(file, first.length).nameAt(0x7f0000001150)).toBe('[unknown JIT code]');
  });

  it('answers what a scan of every entry written in time answers, for any map', () => {
    const entry = fc.record({ start: fc.integer({ min: 0, max: 4000 }), size: fc.integer({ min: 1, max: 700 }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), fc.nat(), fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 30 }), (entries, cut, probes) => {
        const lines = entries.map(({ start, size }, i) => `${(0x7f0000000000 + start).toString(16)} ${size.toString(16)} JS:*f${i} a.js:${i}:1`);
        const file = mapFile(lines);
        const bytes = lines.length === 0 ? 0 : cut % (lines.join('\n').length + 2);
        const map = readPerfMap(file, bytes);
        // the entries whose whole line, newline included, lies within the first `bytes`
        let end = 0;
        const inTime = entries.filter((_, i) => (end += lines[i]!.length + 1) <= bytes);
        for (const probe of probes) {
          let expected = '[unknown JIT code]';
          inTime.forEach(({ start, size }, i) => {
            if (probe >= start && probe < start + size) expected = `JS:*f${i} a.js:${i}:1`;
          });
          expect(map.nameAt(0x7f0000000000 + probe)).toBe(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
