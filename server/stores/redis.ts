import { hash } from 'node:crypto';
import { Cluster, Command, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { IpStampError } from '../../shared/errors.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { parseRedisUrl, REDIS_URL_FORMS, type RedisLocation } from './redis-url.js';
import { assertInsertArguments, ReplayStoreFullError, type ReplayStore } from './replay-store.js';

export interface RedisReplayStoreOptions {
  /** Prepended to every Redis key (default `ipstamp:r:`). */
  keyPrefix?: string;
  /**
   * Durability: after each new key, `WAIT` until this many replicas have it, within the same
   * deadline; fewer acknowledgements fail the insert `store-unavailable` (default 0: Redis'
   * asynchronous replication, where a failover can lose the last writes and reopen their
   * stamps to one replay each). The `WAIT` goes down the connection that made the write, so
   * in a Cluster it reaches the key's own primary.
   */
  waitForReplicas?: number;
  /** The longest an insert may wait for an answer, connecting included (default 200 ms). */
  timeoutMs?: number;
  /**
   * Most inserts outstanding at once (default 10,000); beyond it inserts fail at once. Bounds
   * memory while Redis is stalled and every command sits unanswered on the socket.
   */
  maxPending?: number;
  /** Quit the client on `close()`. Default: true for a client the store created, false otherwise. */
  closeClient?: boolean;
  /** Told of connection errors of a client the store created (it is listened to either way). */
  onClientError?: (error: Error) => void;
}

/**
 * A client passed to the store: an ioredis `Redis` (single or Sentinel-watched) or `Cluster`,
 * from ioredis 5 or 6. The two majors' classes are not assignable to each other in TypeScript,
 * so this names only what the store calls (and it listens to the client's `ready` and `error`);
 * at run time the store checks that each is there.
 */
export interface IoRedisClient {
  readonly status: string;
  readonly isCluster: boolean;
  connect(): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  set(key: Buffer, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<unknown>;
  pipeline(): unknown;
  sendCommand(command: never): unknown;
}

/**
 * Settings for a client the store creates, each chosen so that an outage costs a bounded wait
 * and heals by itself (checked against a real redis-server stopped, restarted and SIGSTOPped):
 * nothing is queued while disconnected (a SET NX sent late would answer a request already
 * failed), commands on a dropped connection fail at once rather than after 20 reconnects,
 * reconnection never gives up, and closing while Redis is down does not keep the process alive
 * for ioredis' default 2 s (its disconnect arms a timer for a socket already closed).
 */
export const REDIS_CLIENT_OPTIONS = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 2000,
  disconnectTimeout: 200,
  retryStrategy: (attempt: number): number => Math.min(attempt * 50, 500),
}) satisfies Readonly<RedisOptions>;

const DEFAULT_PREFIX = 'ipstamp:r:';

const REDIS_STORE_OPTION_NAMES: OptionNames<RedisReplayStoreOptions> = Object.freeze({
  keyPrefix: true,
  waitForReplicas: true,
  timeoutMs: true,
  maxPending: true,
  closeClient: true,
  onClientError: true,
});

/**
 * A replay store shared by every server that points at the same Redis (one, a Sentinel-watched
 * primary or a Cluster): one atomic `SET key 1 NX PX ttl` per stamp, a single key per command.
 * The Redis key is the prefix and the first 16 bytes of the SHA-256 of the opaque key's UTF-8,
 * as raw bytes: every key has the same short length whatever the caller passes, and carries no
 * hash tag of its own, so a Cluster spreads the keys over all its slots.
 *
 * Every insert settles within `timeoutMs`: whether Redis is down, restarting, reconnecting or
 * frozen, the promise rejects with `store-unavailable` at the deadline at the latest — for a
 * client passed in too, whatever its own settings, since the deadline is kept here.
 */
export class RedisReplayStore implements ReplayStore {
  readonly #client: Redis | Cluster;
  readonly #keyPrefix: Buffer;
  readonly #waitForReplicas: number;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #closeClient: boolean;
  /** The 'error' listener put on a client passed in, taken off at close: the client outlives the store. */
  readonly #reportClientError: ((error: Error) => void) | undefined;
  /** Inserts waiting for the connection to be ready; sent (or failed, once closed) on 'ready'. */
  readonly #waiting = new Set<PendingInsert>();
  /**
   * Every insert not yet settled, oldest first (settled ones are dropped from the head). All
   * share one `timeoutMs`, so arrival order is deadline order: one timer, armed at or before the
   * head's deadline, serves them all instead of a `setTimeout` and a `clearTimeout` per insert.
   */
  #head: PendingInsert | undefined;
  #tail: PendingInsert | undefined;
  /** Fires at or before the head's deadline; unref'd while nothing is pending. */
  #timer: NodeJS.Timeout | undefined;
  #outstanding = 0;
  /** Of those, the commands written since a connection last closed, awaiting their answer. */
  #onWire = 0;
  /** Counts connection closes: a command written before the latest is no longer on the wire. */
  #epoch = 0;
  #closed = false;
  /** The connections corked for this event-loop turn's commands, until setImmediate uncorks them. */
  #corked: Corkable[] | undefined;

  constructor(urlOrClient: IoRedisClient | string, options: RedisReplayStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    rejectUnknownOptions(options, REDIS_STORE_OPTION_NAMES);
    const { keyPrefix = DEFAULT_PREFIX, timeoutMs = 200, maxPending = 10_000, waitForReplicas = 0 } = options;
    if (typeof keyPrefix !== 'string' || keyPrefix.length > 256) {
      throw new TypeError('keyPrefix must be a string of at most 256 characters');
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > 60_000) {
      throw new TypeError('timeoutMs must be a number of milliseconds from 1 to 60000');
    }
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) {
      throw new TypeError('maxPending must be a positive integer');
    }
    if (!Number.isSafeInteger(waitForReplicas) || waitForReplicas < 0 || waitForReplicas > 100) {
      throw new TypeError('waitForReplicas must be an integer from 0 to 100');
    }
    this.#keyPrefix = Buffer.from(keyPrefix, 'utf8');
    this.#waitForReplicas = waitForReplicas;
    this.#timeoutMs = timeoutMs;
    this.#maxPending = maxPending;
    if (typeof urlOrClient === 'string') {
      this.#client = createRedisClient(parseRedisUrl(urlOrClient), REDIS_CLIENT_OPTIONS);
      // An 'error' event without a listener is only logged by ioredis, but a reconnecting
      // client logs one per attempt: the owner of the store decides what to do with them.
      this.#client.on('error', reporter(options.onClientError));
      this.#closeClient = options.closeClient ?? true;
      this.#reportClientError = undefined;
    } else if (isRedisClient(urlOrClient)) {
      // either major: what the store calls of it behaves the same (the ioredis5 cases in test/stores/redis*.test.ts)
      this.#client = urlOrClient as unknown as Redis | Cluster;
      this.#reportClientError = options.onClientError ? reporter(options.onClientError) : undefined;
      if (this.#reportClientError) this.#client.on('error', this.#reportClientError);
      this.#closeClient = options.closeClient ?? false;
    } else {
      throw new TypeError(`urlOrClient must be an ioredis client or a URL: ${REDIS_URL_FORMS}`);
    }
    this.#client.on('ready', this.#runWaiting);
    if (this.#client.isCluster) {
      for (const node of (this.#client as Cluster).nodes('all')) node.on('close', this.#connectionClosed);
      this.#client.on('+node', this.#watchNode);
    } else this.#client.on('close', this.#connectionClosed);
  }

  /**
   * A connection closed: the commands written to it are answered by nobody. ioredis 6 and a
   * client with `maxRetriesPerRequest: 0` fail them, but ioredis 5 with retries on (its default,
   * 20) drops them on reconnect without settling them, and each would hold its `maxPending` slot
   * for ever: after a crash with the backlog full, every stamp refused as "full" until a
   * restart. So what was on the wire is let go here, whatever the client does with it later.
   * In a Cluster any node's close lets go of every node's commands, early for those of the
   * nodes still up: until they are answered the backlog can run past `maxPending`, only after
   * a close, and by no more than what was on the wire then.
   */
  readonly #connectionClosed = (): void => {
    this.#outstanding -= this.#onWire;
    this.#onWire = 0;
    this.#epoch++;
  };

  readonly #watchNode = (node: Redis): void => {
    node.on('close', this.#connectionClosed);
  };

  insertIfAbsent(key: string, ttlMs: number): Promise<boolean> {
    try {
      assertInsertArguments(key, ttlMs);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(new IpStampError('store-unavailable'));
    // a backlog a flood of stamps can fill is capacity, not an outage: full, whatever the policy
    if (this.#outstanding >= this.#maxPending) return Promise.reject(new ReplayStoreFullError());
    const redisKey = redisKeyOf(this.#keyPrefix, key);
    const px = Math.min(Math.ceil(ttlMs), Number.MAX_SAFE_INTEGER);
    this.#outstanding++;
    const pending = new PendingInsert(redisKey, px, performance.now() + this.#timeoutMs);
    const answer = new Promise<boolean>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    this.#enqueue(pending);
    const status = this.#client.status;
    if (status === 'ready') this.#send(pending);
    else if (status === 'end') this.#settle(pending, undefined, new Error('Redis connection is closed'));
    else {
      // Connecting or reconnecting: wait for 'ready' within the deadline rather than hand
      // the command to ioredis, which would either refuse it or queue it past the deadline.
      this.#waiting.add(pending);
      if (status === 'wait') this.#client.connect().catch(() => undefined);
    }
    return answer;
  }

  #send(pending: PendingInsert): void {
    if (pending.settled) return;
    if (this.#closed) return this.#settle(pending, undefined, new Error('store closed'));
    let reply: Promise<'OK' | null>;
    this.#corkForThisTurn();
    try {
      reply =
        this.#waitForReplicas === 0
          ? this.#client.set(pending.redisKey, '1', 'PX', pending.px, 'NX')
          : this.#setAndWait(pending.redisKey, pending.px, pending.deadlineAt);
    } catch (error) {
      return this.#settle(pending, undefined, error);
    }
    pending.sent = true;
    pending.epoch = this.#epoch;
    this.#onWire++;
    reply.then(
      (reply) => {
        this.#answered(pending);
        if (reply === 'OK') this.#settle(pending, true);
        else if (reply === null) this.#settle(pending, false);
        else this.#settle(pending, undefined, new Error('unexpected reply to SET NX'));
      },
      (error: unknown) => {
        this.#answered(pending);
        this.#settle(pending, undefined, error);
      },
    );
  }

  /**
   * A command on the wire stays outstanding until Redis answers or its connection closes
   * (whether or not its insert already timed out): that is what maxPending has to bound. One
   * written before the latest close was let go then.
   */
  #answered(pending: PendingInsert): void {
    if (pending.epoch !== this.#epoch) return;
    this.#outstanding--;
    this.#onWire--;
  }

  /**
   * Every command sent in one event-loop turn goes out in one write per connection: the
   * sockets are corked at the turn's first insert and uncorked from setImmediate, after the
   * turn's I/O callbacks. A write per command costs the server a system call and, where Redis
   * shares the host's cores (loopback, a sidecar), the wake-up of redis-server; a busy server
   * verifies several stamps per turn (bench/README.md, "HTTP cost"). A command waits at most
   * until the end of its turn; Redis answers a connection's commands in order, so each insert's
   * answer is its own (test/stores/redis.test.ts, "one write per turn"). In a Cluster every
   * primary's connection is corked: ioredis routes each key to its own.
   */
  #corkForThisTurn(): void {
    if (this.#corked !== undefined) return;
    const corked: Corkable[] = [];
    const connections = this.#client.isCluster ? (this.#client as Cluster).nodes('master') : [this.#client as Redis];
    for (const connection of connections) {
      const stream = connection.stream as Partial<Corkable> | undefined;
      if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function' || stream.writable !== true) continue;
      stream.cork();
      corked.push(stream as Corkable);
    }
    this.#corked = corked;
    setImmediate(this.#uncork);
  }

  readonly #uncork = (): void => {
    const corked = this.#corked ?? [];
    this.#corked = undefined;
    for (const stream of corked) {
      try {
        stream.uncork();
      } catch {
        // A socket failing here is one ioredis is already tearing down (its commands fail
        // through ioredis): it must not throw from a setImmediate callback, which would end
        // the process, nor keep the other primaries' sockets corked.
      }
    }
  };

  #settle(pending: PendingInsert, answer: boolean | undefined, cause?: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    if (!pending.sent) {
      this.#outstanding--;
      this.#waiting.delete(pending);
    }
    if (answer !== undefined) pending.resolve(answer);
    else pending.reject(isOutOfMemory(cause) ? new ReplayStoreFullError({ cause }) : new IpStampError('store-unavailable', { cause }));
    if (pending === this.#head) this.#dropSettledHead();
  }

  #enqueue(pending: PendingInsert): void {
    if (this.#tail) this.#tail.next = pending;
    else {
      this.#head = pending;
      // An idle timer is kept, unref'd: it fires no later than this deadline (armed for an
      // earlier one), so holding the process again is all this first insert needs.
      if (this.#timer) this.#timer.ref();
      else this.#timer = setTimeout(this.#expire, this.#timeoutMs);
    }
    this.#tail = pending;
  }

  #dropSettledHead(): void {
    let head = this.#head;
    while (head?.settled) {
      const next = head.next;
      head.next = undefined;
      head = next;
    }
    this.#head = head;
    if (head) return;
    this.#tail = undefined;
    // nothing pending: the timer must not keep the process alive
    this.#timer?.unref();
  }

  /** Fails every insert past its deadline, then re-arms for the next one. */
  readonly #expire = (): void => {
    this.#timer = undefined;
    // Timers have millisecond granularity and count from the event loop's cached time, so a
    // timer each would have fired together for inserts made within the same millisecond:
    // those expire together here too, rather than one more millisecond later.
    const now = performance.now() + 1;
    let head: PendingInsert | undefined;
    while ((head = this.#head) && head.deadlineAt <= now) {
      this.#settle(head, undefined, new Error(`Redis did not answer within ${this.#timeoutMs} ms`));
    }
    if (head) this.#timer = setTimeout(this.#expire, Math.ceil(head.deadlineAt - now) + 1);
  };

  /**
   * `SET NX` then `WAIT` in one pipeline: one connection, so the `WAIT` counts acknowledgements
   * of this very write, on the node that made it (in a Cluster, ioredis sends a pipeline to the
   * node of its key). The `WAIT` is bounded by what is left of the deadline; a replay is
   * answered as soon as the `SET` is, without waiting for the `WAIT`.
   *
   * In a Cluster the `SET` can be redirected — `ASK` while its slot migrates, `MOVED` once it has
   * moved. ioredis 5 follows neither in a pipeline whose keyless `WAIT` succeeded: the `SET`
   * never ran. It is then sent once more on its own, where ioredis does follow them (and, for
   * `MOVED`, fixes its slot table), and the `WAIT` follows it on the connection that took it.
   * ioredis 6 sends the pipeline again to the node named, and a `WAIT` is counted only when it
   * went down the connection that took the `SET`; otherwise one is sent there.
   */
  #setAndWait(redisKey: Buffer, px: number, deadlineAt: number): Promise<'OK' | null> {
    const replicas = this.#waitForReplicas;
    const set = new SocketRecordingCommand('set', [redisKey, '1', 'PX', px, 'NX'], { replyEncoding: 'utf8' });
    const wait = new SocketRecordingCommand('wait', [replicas, Math.max(1, Math.ceil(deadlineAt - performance.now()))]);
    const pipeline = this.#client.pipeline() as unknown as CommandQueue;
    pipeline.sendCommand(set);
    pipeline.sendCommand(wait);
    return new Promise((resolve, reject) => {
      // the first answer to the SET; a redirect's retry is the pipeline's to report
      set.promise.then((reply) => reply === null && resolve(null), ignore);
      pipeline
        .exec()
        .then(async (results): Promise<'OK' | null> => {
          const [[setError, reply] = [], [waitError, acknowledged] = []] = results ?? [];
          if (setError) {
            // once: the retry's own redirects are ioredis' (maxRedirections), and never past the deadline
            if (this.#client.isCluster && isRedirection(setError) && performance.now() < deadlineAt) {
              return this.#setAndWaitRedirected(this.#client as Cluster, redisKey, px, deadlineAt);
            }
            throw setError;
          }
          if (reply === null) return null;
          if (reply !== 'OK') throw new Error('unexpected reply to SET NX');
          if (set.socket === undefined || wait.socket !== set.socket) return this.#waitOn(this.#client as Cluster, set.socket, deadlineAt);
          if (waitError) throw waitError;
          if (typeof acknowledged === 'number' && acknowledged >= replicas) return 'OK';
          throw new Error(`only ${String(acknowledged)} of ${replicas} replicas acknowledged in time`);
        })
        .then(resolve, reject);
    });
  }

  /**
   * A redirected insert: `SET NX` through the Cluster's command path, which follows `ASK` and
   * `MOVED`, then `WAIT` down the very socket the `SET` was last written to — the connection of
   * the node that executed it, checked again when the `WAIT` is written. Any doubt (that node's
   * connection dropped or replaced meanwhile) fails the insert: a `WAIT` on another connection
   * would count acknowledgements of some other write.
   */
  async #setAndWaitRedirected(cluster: Cluster, redisKey: Buffer, px: number, deadlineAt: number): Promise<'OK' | null> {
    const set = new SocketRecordingCommand('set', [redisKey, '1', 'PX', px, 'NX'], { replyEncoding: 'utf8' });
    void cluster.sendCommand(set);
    const reply: unknown = await set.promise;
    if (reply === null) return null;
    if (reply !== 'OK') throw new Error('unexpected reply to SET NX');
    return this.#waitOn(cluster, set.socket, deadlineAt);
  }

  /** `WAIT` down `socket`, the connection that made the write, found among the Cluster's nodes. */
  async #waitOn(cluster: Cluster, socket: object | undefined, deadlineAt: number): Promise<'OK'> {
    const node = socket === undefined || !cluster.isCluster ? undefined : cluster.nodes('all').find((n) => n.stream === socket);
    if (!node || node.status !== 'ready') throw new Error('the connection that made the write closed before its WAIT');
    const replicas = this.#waitForReplicas;
    const wait = new SocketRecordingCommand('wait', [replicas, Math.max(1, Math.ceil(deadlineAt - performance.now()))]);
    void node.sendCommand(wait);
    const acknowledged: unknown = await wait.promise;
    if (wait.socket !== socket) throw new Error('the connection that made the write closed before its WAIT');
    if (typeof acknowledged === 'number' && acknowledged >= replicas) return 'OK';
    throw new Error(`only ${String(acknowledged)} of ${replicas} replicas acknowledged in time`);
  }

  /** Fails waiting inserts, and quits the client if the store owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.off('ready', this.#runWaiting);
    if (this.#client.isCluster) {
      this.#client.off('+node', this.#watchNode);
      for (const node of (this.#client as Cluster).nodes('all')) node.off('close', this.#connectionClosed);
    } else this.#client.off('close', this.#connectionClosed);
    this.#runWaiting();
    if (!this.#closeClient) {
      // one client shared by many stores (per route, per config reload) must not gather their
      // listeners, nor tell a closed store's onClientError of the errors of the ones still open
      if (this.#reportClientError) this.#client.off('error', this.#reportClientError);
      return;
    }
    const client = this.#client;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (client.status === 'ready') {
        await Promise.race([client.quit(), new Promise((resolve) => (timer = setTimeout(resolve, this.#timeoutMs)))]);
      }
    } catch {
      // quit failing means the connection is already gone: disconnect below is all that is left.
    } finally {
      clearTimeout(timer);
      client.disconnect();
    }
  }

  readonly #runWaiting = (): void => {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const pending of waiting) this.#send(pending);
  };
}

/** A pipeline as the store fills it: its own commands in, their results out, in order. */
interface CommandQueue {
  sendCommand(command: Command): unknown;
  exec(): Promise<[error: Error | null, reply: unknown][] | null>;
}

/** What the store uses of a connection's socket (net.Socket, tls.TLSSocket). */
interface Corkable {
  cork(): void;
  uncork(): void;
  readonly writable: boolean;
}

/**
 * A command that remembers the socket ioredis last wrote it to (as ioredis' own Script does, to
 * know which connections have loaded it): a redirected Cluster command is written again, to the
 * node named by the redirect, so the last socket is the connection that executed it.
 */
class SocketRecordingCommand extends Command {
  socket: object | undefined;

  override toWritable(socket: object): string | Buffer {
    this.socket = socket;
    return super.toWritable(socket);
  }
}

/** `ASK` (the slot is migrating) and `MOVED` (it has moved): the command did not run. */
function isRedirection(error: Error): boolean {
  return error.message.startsWith('ASK ') || error.message.startsWith('MOVED ');
}

/** One insert from its start until it settles: its command, its deadline, its promise. */
class PendingInsert {
  settled = false;
  /** Handed to ioredis: from then on it counts as outstanding until Redis answers. */
  sent = false;
  /** The store's count of connection closes when it was sent. */
  epoch = 0;
  /** The next insert in arrival (= deadline) order. */
  next: PendingInsert | undefined = undefined;
  resolve!: (answer: boolean) => void;
  reject!: (error: Error) => void;

  constructor(
    readonly redisKey: Buffer,
    readonly px: number,
    readonly deadlineAt: number,
  ) {}
}

/**
 * The prefix, then the first 16 bytes of SHA-256(UTF-8 of the key), each 0x7B ("{") written
 * 0x7A: what another implementation sharing the Redis would compute: 128 bits, so two live
 * stamps share a key with probability about n²/2¹²⁹ (and a collision can only refuse a fresh
 * stamp, never let a replay through). A string with a lone surrogate has no UTF-8 form (Node
 * would write U+FFFD, merging distinct keys): it is hashed as 0xFF and its UTF-16LE code units
 * instead, and since no UTF-8 text contains the byte 0xFF the two kinds can never share a hash
 * input.
 */
export function redisKeyOf(prefix: Buffer, key: string): Buffer {
  // One-shot hash as a 'binary' (latin1) string, one char per byte: a third of createHash/update/digest,
  // and less than half of asking for a Buffer, which Node 20 builds on a slower path.
  const digest = (key as unknown as { isWellFormed(): boolean }).isWellFormed()
    ? hash('sha256', key, 'binary')
    : hash('sha256', Buffer.concat([MALFORMED_MARK, Buffer.from(key, 'utf16le')]), 'binary');
  const n = prefix.length;
  const redisKey = Buffer.allocUnsafe(n + 16);
  for (let i = 0; i < n; i++) redisKey[i] = prefix[i]!;
  // No "{" in a key, so never a hash tag: Redis reads "{}…}" as none and hashes the whole key,
  // ioredis (cluster-key-slot) reads a tag up to the later "}" — and sent such a key's pipeline
  // to the wrong primary. Folding 0x7B into 0x7A costs 128 bits about 1 % of one bit.
  for (let i = 0; i < 16; i++) {
    const byte = digest.charCodeAt(i);
    redisKey[n + i] = byte === 0x7b ? 0x7a : byte;
  }
  return redisKey;
}

const MALFORMED_MARK = Uint8Array.of(0xff);

/** An 'error' listener that cannot throw: a throw there would escape from ioredis' socket handlers. */
function reporter(onClientError: ((error: Error) => void) | undefined): (error: Error) => void {
  return (error) => {
    try {
      onClientError?.(error);
    } catch {
      // The owner's logger failed; the connection keeps reconnecting regardless.
    }
  };
}

/** An ioredis client for the location, with the store's settings for every connection it opens. */
function createRedisClient(location: RedisLocation, options: Readonly<RedisOptions>): Redis | Cluster {
  const tls = location.tls ? { tls: {} } : {};
  if (location.kind === 'single') return new Redis(location.url, { ...options });
  if (location.kind === 'sentinel') {
    return new Redis({
      ...options,
      ...location.auth,
      ...tls,
      sentinels: location.sentinels.map((n) => ({ ...n })),
      name: location.name,
      db: location.db,
      sentinelTLS: location.tls ? {} : undefined,
      enableTLSForSentinelMode: location.tls,
      // a sentinel unreachable is retried as the primary is: never give up, never wait long
      sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
      // told of a failover by the sentinels themselves instead of by a dead socket
      failoverDetector: true,
    });
  }
  const { enableOfflineQueue: _, retryStrategy: _nodesNeverReconnect, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    // Not the "no queue" of a single client: with it off, a command for a node whose lazy
    // connection is still opening is refused as "Connection is closed" — the first burst after
    // every failover. The store sends only while the cluster is ready and keeps its own
    // deadline, so a queued command is bounded all the same.
    enableOfflineQueue: true,
    redisOptions: { ...nodeOptions, ...location.auth, ...tls },
    // never give up on the cluster as a whole either
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
    // a failover moves slots: look again soon rather than after ioredis' 5 s
    slotsRefreshInterval: 1000,
  };
  return new Cluster(
    location.nodes.map((n) => ({ ...n })),
    clusterOptions,
  );
}

function ignore(): void {}

/** The interface's methods, and the event emitter's (each major types `on` by its own events). */
const CLIENT_METHODS = ['connect', 'quit', 'disconnect', 'set', 'pipeline', 'sendCommand', 'on', 'off'] as const satisfies readonly (keyof (IoRedisClient &
  Redis))[];

function isRedisClient(value: unknown): value is IoRedisClient {
  if (typeof value !== 'object' || value === null || typeof (value as IoRedisClient).status !== 'string') return false;
  return CLIENT_METHODS.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}

/** Redis at `maxmemory` with `noeviction` answers writes with an OOM error: the store is full. */
function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('OOM ');
}
