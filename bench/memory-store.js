/**
 * MemoryReplayStore vs a naive Map<string, number> store, filled with the same live keys:
 * bytes per live entry (heapUsed + arrayBuffers delta, the keys included where the store keeps
 * them) and inserts/s, replay checks/s.
 *   npm run build && node --expose-gc bench/memory-store.js [--quick | --entries N]
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { MemoryReplayStore } from '../dist/server/stores/memory.js';
import { fmt } from './measure.js';

const TTL_MS = 60_000;

/** The simplest store a Map gives: what a replay cache costs without a compact layout. */
class MapReplayStore {
  #map = new Map();
  insertIfAbsent(key, ttlMs) {
    const now = Date.now();
    const expiry = this.#map.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.#map.set(key, now + ttlMs);
    return true;
  }
}

/** Keys shaped like the verifier's: `kid + ' ' + jti`, 43-char thumbprints and 22-char jti. */
function makeKeys(count) {
  const kids = Array.from({ length: 100 }, () => randomBytes(32).toString('base64url'));
  const jtis = randomBytes(16 * count);
  const keys = new Array(count);
  for (let i = 0; i < count; i++) {
    const key = `${kids[i % kids.length]} ${jtis.toString('base64url', i * 16, i * 16 + 16)}`;
    // Flat strings, as parsed headers are: a concatenation would be flattened (and grown) by
    // the first Map lookup, charging the Map for the way this bench built its keys.
    keys[i] = Buffer.from(key, 'latin1').toString('latin1');
  }
  return keys;
}

async function settle() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const used = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

async function measure(makeStore, entries) {
  await settle();
  const before = used();
  let keys = makeKeys(entries);
  const store = makeStore();
  let start = performance.now();
  for (let i = 0; i < entries; i++) {
    if (store.insertIfAbsent(keys[i], TTL_MS) !== true) throw new Error('a fresh key was refused');
  }
  const insertsPerSecond = (entries * 1000) / (performance.now() - start);
  start = performance.now();
  for (let i = 0; i < entries; i++) {
    if (store.insertIfAbsent(keys[i], TTL_MS) !== false) throw new Error('a replay went through');
  }
  const replayChecksPerSecond = (entries * 1000) / (performance.now() - start);
  // The keys go: whatever the store still holds of them is its own cost.
  keys = undefined;
  await settle();
  const bytesPerEntry = (used() - before) / entries;
  return { store, result: { bytesPerEntry, insertsPerSecond, replayChecksPerSecond } };
}

/** Figures for MemoryReplayStore and the Map baseline at `entries` live keys (needs --expose-gc). */
export async function measureMemoryStore({ entries = 1_000_000 } = {}) {
  if (typeof globalThis.gc !== 'function') throw new Error('run node with --expose-gc');
  // Warm-up so both variants run optimized code.
  await measure(() => new MemoryReplayStore({ maxEntries: 50_000 }), 50_000);
  await measure(() => new MapReplayStore(), 50_000);

  const memory = await measure(() => new MemoryReplayStore({ maxEntries: entries }), entries);
  const tableBytesPerEntry = memory.store.byteLength / entries;
  memory.store.close();
  const map = await measure(() => new MapReplayStore(), entries);
  return {
    entries,
    memoryStore: { ...memory.result, tableBytesPerEntry },
    map: map.result,
    mapToMemoryBytesRatio: map.result.bytesPerEntry / memory.result.bytesPerEntry,
  };
}

function printTable(figures) {
  const rows = [
    ['store', 'live entries', 'bytes/entry', 'inserts/s', 'replay checks/s'],
    [
      'MemoryReplayStore',
      fmt(figures.entries),
      fmt(figures.memoryStore.bytesPerEntry, 1),
      fmt(figures.memoryStore.insertsPerSecond),
      fmt(figures.memoryStore.replayChecksPerSecond),
    ],
    ['Map<string, number>', fmt(figures.entries), fmt(figures.map.bytesPerEntry, 1), fmt(figures.map.insertsPerSecond), fmt(figures.map.replayChecksPerSecond)],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  console.log(
    `\nMap / MemoryReplayStore memory: ${fmt(figures.mapToMemoryBytesRatio, 1)}x ` +
      `(fingerprint table alone: ${fmt(figures.memoryStore.tableBytesPerEntry, 1)} bytes/entry)`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--entries');
  const entries = process.argv.includes('--quick') ? 100_000 : at > 0 ? Number(process.argv[at + 1]) : 1_000_000;
  if (!Number.isSafeInteger(entries) || entries < 1) throw new TypeError('--entries must be a positive integer');
  printTable(await measureMemoryStore({ entries }));
}
