/**
 * A lean HTTP/1.1 load generator for the CPU-per-request window of bench/http.js.
 *
 * Why not autocannon there: with a fresh stamp per request (`setupRequest`) autocannon
 * rebuilds every request in JavaScript, and on this machine it saturates its core at about a
 * quarter of what the server can answer. An under-loaded server pays its per-wakeup costs
 * (epoll, one write per response, an event-loop turn) for every request instead of sharing
 * them across a batch, so its CPU per request rises with idleness — and a variant the client
 * feeds slowly would be charged for the client's slowness. Here every request is built before
 * the window opens (one Buffer, sliced), and a connection sends its next request as soon as
 * the previous answer is complete: keep-alive, no pipelining, as a browser or undici does.
 */
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;
const LENGTH_NAMES = [Buffer.from('\r\ncontent-length:'), Buffer.from('\r\nContent-Length:')];
const EMPTY = Buffer.alloc(0);

/**
 * The size in bytes of the first response in `bytes` once its head is in (the body may still
 * be short of it), `0` while the head is incomplete, `-1` when it has no content-length.
 * Allocation-free on the bench servers' two spellings of content-length: the load's garbage is
 * collected in the load's own process, and a collection there holds back requests that are
 * due, which the latency figures would charge to the server (the regular expression on a
 * string is the fallback for any other spelling).
 */
function responseSize(bytes) {
  const end = bytes.indexOf(HEADER_END);
  if (end === -1) return 0;
  let at = -1;
  let nameLength = 0;
  for (const name of LENGTH_NAMES) {
    at = bytes.indexOf(name);
    if (at !== -1 && at < end) {
      nameLength = name.length;
      break;
    }
    at = -1;
  }
  let length;
  if (at === -1) {
    const match = CONTENT_LENGTH.exec(bytes.toString('latin1', 0, end));
    if (!match) return -1;
    length = Number(match[1]);
  } else {
    let i = at + nameLength;
    while (bytes[i] === 0x20) i++;
    length = 0;
    const first = i;
    for (let c = bytes[i]; c >= 0x30 && c <= 0x39; c = bytes[++i]) length = length * 10 + (c - 0x30);
    if (i === first) return -1;
  }
  return end + 4 + length;
}

/** Whether the response at the start of `bytes` has a 2xx status ("HTTP/1.1 2…"). */
function isSuccess(bytes) {
  return bytes[9] === 0x32 && bytes[0] === 0x48;
}

/** Whether the response at the start of `bytes` has exactly this three-digit status. */
function hasStatus(bytes, status) {
  return (
    bytes[0] === 0x48 &&
    bytes[9] === 0x30 + Math.floor(status / 100) &&
    bytes[10] === 0x30 + (Math.floor(status / 10) % 10) &&
    bytes[11] === 0x30 + (status % 10)
  );
}

/**
 * `count` requests `GET path`, as bytes: fixed `headers`, plus `headersOf(i)` for the i-th (a
 * fresh stamp each). One Buffer and one array of offsets, not a Buffer per request: the set is
 * built just before a window and lives through it, and a view per request was tens of
 * thousands of young objects for this process's scavenges to copy. With them, the load ran a
 * 6–12 ms mark-compact once per window, after each set was built, and its scavenges over a run
 * took 1.2 ms at the median and 5.3 ms at the p90; any pause inside a window is charged to the
 * server by the latency figures (bench/README.md, "Seventh pass").
 * `at(i)` makes the i-th request's view when it is sent; it dies young.
 */
export function buildRequests({ host, path, headers = {}, count = 1, headersOf }) {
  const texts = new Array(count);
  let size = 0;
  for (let i = 0; i < count; i++) {
    let text = `GET ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
    for (const [name, value] of Object.entries({ ...headers, ...(headersOf ? headersOf(i) : {}) })) text += `${name}: ${value}\r\n`;
    texts[i] = `${text}\r\n`;
    size += texts[i].length;
  }
  const bytes = Buffer.allocUnsafeSlow(size);
  const ends = new Uint32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    at += bytes.write(texts[i], at, 'latin1');
    ends[i] = at;
  }
  settleHeap();
  return { length: count, at: (i) => bytes.subarray(i === 0 ? 0 : ends[i - 1], ends[i]) };
}

/**
 * A full collection of this process, when it can have one: what building a request set left
 * (the stamps' strings, the signer's garbage) is then collected before the window opens, not
 * in the middle of it.
 */
let collect;
function settleHeap() {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc');
  }
  collect();
}

/**
 * Sends `requests` in order (each used once; running out ends the window early) over
 * `connections` keep-alive connections for `duration` seconds. Resolves with the answers by
 * class and the rate. A malformed response or a closed connection counts as an error, and so
 * does a status other than 2xx — or other than `expectStatus`, for a load the server must
 * refuse.
 *
 * 32 connections, not 10: a request whose verification waits for Redis holds its connection
 * for a round trip, and 10 connections then left that server short of work (its core 80–83 %
 * busy against 93–95 % for bare Fastify), charging it the per-wake-up costs above. At 32 the
 * servers that never wait measured the same as at 10 (bench/README.md, "Fifth pass").
 */
export function blast({ port, host = '127.0.0.1', requests, connections = 32, duration, expectStatus }) {
  return new Promise((resolve) => {
    let next = 0;
    let ok = 0;
    let errors = 0;
    let open = connections;
    let stopping = false;
    const started = process.hrtime.bigint();
    const sockets = [];

    const finish = () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ ok, errors, rps: (ok + errors) / seconds, exhausted: next >= requests.length });
    };

    const start = () => {
      const socket = connect({ port, host, noDelay: true });
      sockets.push(socket);
      let pending = EMPTY;
      const sendNext = () => {
        if (stopping || next >= requests.length) {
          socket.end();
          return;
        }
        socket.write(requests.at(next++));
      };
      socket.on('connect', sendNext);
      socket.on('data', (chunk) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        // one request in flight per connection, so one response at most is complete here
        const total = responseSize(pending);
        if (total === -1) {
          errors++;
          socket.destroy();
          return;
        }
        if (total === 0 || pending.length < total) return;
        if (expectStatus === undefined ? isSuccess(pending) : hasStatus(pending, expectStatus)) ok++;
        else errors++;
        pending = pending.length === total ? EMPTY : pending.subarray(total);
        sendNext();
      });
      socket.on('error', () => {
        errors++;
      });
      socket.on('close', () => {
        if (--open === 0) finish();
      });
    };

    for (let i = 0; i < connections; i++) start();
    // Keep this process's event loop spinning (epoll with a zero timeout) so it never sleeps
    // waiting for an answer: on loopback the kernel wakes a sleeping reader from inside the
    // server's write, an inter-processor interrupt that costs a VM several µs, and that would
    // be charged to the server's CPU — more for a slower server, whose client sleeps more.
    const spin = () => {
      if (open > 0) setImmediate(spin);
    };
    spin();
    setTimeout(() => {
      stopping = true;
    }, duration * 1000).unref();
  });
}

/**
 * Latency at a fixed rate: request i is due at `i / rate` seconds, goes out on the first idle
 * keep-alive connection, and its latency counts from when it was due (not when it went out),
 * so a server that falls behind is charged for the queue it builds — no coordinated
 * omission. This process spins, as in blast, so no wake-up of the load is charged to the
 * server. Resolves with the percentiles in ms and the failures (non-2xx answers, closed
 * connections, requests never sent because the window ended first).
 *
 * 32 connections, as `blast`: a request that is due waits here while every connection has one
 * in flight, and with 10 a server that waits for Redis on each request ran out of them at half
 * its saturated rate — its median latency was then 3–225 ms of waiting in this process, not
 * in the server (0.25–1 ms with 32, same rate, same session).
 *
 * The first `leadIn` seconds run at the same rate on the same connections and are not in the
 * figures (as wrk2's calibration period is not): in every window traced, bare and ipstamp
 * alike, hundreds of the first 100–300 ms's requests were more than 1 ms late, while this
 * process was busy for 1–6 ms at a time with no collection running (waiting for all 32
 * connections before starting the clock did not remove it), and the p99 of a 3-second window
 * was mostly that start (bench/README.md, "Seventh pass"). Its p99 is reported beside the
 * figure as `leadInP99Ms`.
 *
 * What of a request's latency was spent here, before it was written, is reported too:
 * `queuedP99Ms`, the p99 of the time from falling due to being written, and
 * `connectionWaitP99Ms`, the p99 of the part of it spent waiting for a free connection (from
 * falling due until the connection it went out on was free; the rest is this loop running
 * late). A p99 far above them was spent in the server. A p99 close to the connection wait is
 * the queue of a server that held all 32 connections too long, as the Redis variant's p99 was
 * whenever it collapsed (bench/README.md, "Eighth pass").
 */
export const LEAD_IN_SECONDS = 0.5;

export function paced({ port, host = '127.0.0.1', requests, rate, duration, connections = 32, leadIn = LEAD_IN_SECONDS }) {
  return new Promise((resolve) => {
    const total = Math.min(requests.length, Math.floor(rate * (leadIn + duration)));
    const first = Math.min(total, Math.floor(rate * leadIn));
    const latencies = new Float64Array(total - first);
    const leadLatencies = new Float64Array(first);
    // per measured request written: how long after falling due it went out, and how much of
    // that no connection was free
    const queued = new Float64Array(total - first);
    const connectionWait = new Float64Array(total - first);
    let written = 0;
    let answered = 0;
    let leadAnswered = 0;
    let next = 0;
    let open = connections;
    // performance.now() and not process.hrtime.bigint(): this runs on every spin of the loop,
    // and a BigInt per call is garbage that makes the load stall for its own collections
    const started = performance.now();
    const elapsedNs = () => (performance.now() - started) * 1e6;
    let inFlight = 0;
    const idle = [];
    const dueNs = (i) => (i * 1e9) / rate;

    const finish = () => {
      const quantile = (values, count) => {
        const sorted = values.subarray(0, count).sort();
        return (q) => (count === 0 ? NaN : sorted[Math.min(count - 1, Math.floor(q * count))] / 1e6);
      };
      const at = quantile(latencies, answered);
      resolve({
        p50Ms: at(0.5),
        p99Ms: at(0.99),
        maxMs: at(1),
        // the lead-in's own p99, reported beside the figure and never in it
        leadInP99Ms: quantile(leadLatencies, leadAnswered)(0.99),
        // the load's own queue (see above)
        queuedP99Ms: quantile(queued, written)(0.99),
        connectionWaitP99Ms: quantile(connectionWait, written)(0.99),
        answered,
        // non-2xx answers, closed connections and requests never sent: all that was not answered
        errors: total - answered - leadAnswered,
        rate,
      });
    };

    const conns = [];
    for (let c = 0; c < connections; c++) {
      const socket = connect({ port, host, noDelay: true });
      // freeAt: when the connection last became free (connected, or its answer complete)
      const conn = { socket, pending: EMPTY, inFlight: -1, freeAt: 0 };
      conns.push(conn);
      socket.on('connect', () => {
        conn.freeAt = elapsedNs();
        idle.push(conn);
      });
      socket.on('data', (chunk) => {
        conn.pending = conn.pending.length === 0 ? chunk : Buffer.concat([conn.pending, chunk]);
        const size = responseSize(conn.pending);
        if (size === -1) {
          socket.destroy();
          return;
        }
        if (size === 0 || conn.pending.length < size) return;
        // a non-2xx answer is not answered: finish counts it among the errors
        if (isSuccess(conn.pending)) {
          const latency = elapsedNs() - dueNs(conn.inFlight);
          if (conn.inFlight < first) leadLatencies[leadAnswered++] = latency;
          else latencies[answered++] = latency;
        }
        conn.pending = conn.pending.length === size ? EMPTY : conn.pending.subarray(size);
        conn.inFlight = -1;
        inFlight--;
        conn.freeAt = elapsedNs();
        idle.push(conn);
      });
      // an error closes the socket: its request counts as not answered (finish)
      socket.on('error', () => {});
      socket.on('close', () => {
        if (--open === 0) finish();
      });
    }

    const tick = () => {
      const now = elapsedNs();
      while (next < total && idle.length > 0 && dueNs(next) <= now) {
        const conn = idle.shift();
        if (next >= first) {
          const due = dueNs(next);
          queued[written] = now - due;
          connectionWait[written++] = Math.max(0, conn.freeAt - due);
        }
        conn.inFlight = next;
        inFlight++;
        conn.socket.write(requests.at(next++));
      }
      const busy = inFlight > 0;
      const end = (leadIn + duration) * 1e9;
      if ((next < total && now < end + 2e9) || (busy && now < end + 5e9)) setImmediate(tick);
      else for (const c of conns) c.socket.end();
    };
    setImmediate(tick);
  });
}
