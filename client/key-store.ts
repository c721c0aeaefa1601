import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import type { ClientPublicJwk } from '../shared/ticket-schema.js';
import { algOfPublicJwk, assembleStampKey, publicMembers, subtleCrypto, type StampKey } from './browser-key.js';

/**
 * Why a saved key could not be written or read. Messages are fixed; the underlying
 * IndexedDB error, if any, is `cause`.
 */
const MESSAGES = {
  unavailable: 'IndexedDB is not available in this context',
  failed: 'IndexedDB refused the operation',
  corrupt: 'the saved record is not a stamp key saved by saveStampKey',
} as const;

export type StampKeyStoreProblem = keyof typeof MESSAGES;

export class StampKeyStoreError extends Error {
  override readonly name = 'StampKeyStoreError';
  readonly code = 'ERR_IPSTAMP_KEY_STORE' as const;
  readonly detail: StampKeyStoreProblem;

  constructor(detail: StampKeyStoreProblem, options?: { cause?: unknown }) {
    super(MESSAGES[detail], options);
    this.detail = detail;
  }
}

export interface StampKeyStoreOptions {
  /** The IndexedDB database name. Default `ipstamp`. */
  database?: string;
}

const DEFAULT_DATABASE = 'ipstamp';
const STORE = 'keys';
/** A record's shape: bump when it changes, so old records read as corrupt rather than wrong. */
const RECORD_VERSION = 1;

interface SavedRecord {
  v: typeof RECORD_VERSION;
  privateKey: CryptoKey;
  publicJwk: JsonWebKey;
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.length > 256) throw new TypeError('name must be a string of 1–256 characters');
}

const KEY_STORE_OPTION_NAMES: OptionNames<StampKeyStoreOptions> = Object.freeze({ database: true });

function databaseName(options: StampKeyStoreOptions): string {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, KEY_STORE_OPTION_NAMES);
  const database = options.database ?? DEFAULT_DATABASE;
  if (typeof database !== 'string' || database === '') throw new TypeError('database must be a non-empty string');
  return database;
}

function settle<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new StampKeyStoreError('failed', { cause: request.error }));
  });
}

function openDatabase(name: string): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') return Promise.reject(new StampKeyStoreError('unavailable'));
  let request: IDBOpenDBRequest;
  try {
    request = indexedDB.open(name, 1);
  } catch (error) {
    return Promise.reject(new StampKeyStoreError('unavailable', { cause: error }));
  }
  request.onupgradeneeded = () => {
    if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
  };
  // another tab holding an older version open: nothing to wait for at version 1
  return settle(request);
}

/** Runs one request in its own transaction and waits until the transaction has committed. */
async function withStore<T>(options: StampKeyStoreOptions, mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDatabase(databaseName(options));
  try {
    const transaction = db.transaction(STORE, mode);
    const done = new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onabort = () => reject(new StampKeyStoreError('failed', { cause: transaction.error }));
    });
    // both awaited together, so a failed request cannot leave a rejection unhandled
    const [result] = await Promise.all([settle(run(transaction.objectStore(STORE))), done]);
    return result;
  } catch (error) {
    throw error instanceof StampKeyStoreError ? error : new StampKeyStoreError('failed', { cause: error });
  } finally {
    db.close();
  }
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof CryptoKey !== 'undefined' && value instanceof CryptoKey;
}

/** The WebCrypto algorithm a private key of each alg carries. */
const ALGORITHM_OF = { ES256: 'ECDSA', EdDSA: 'Ed25519' } as const;
const SIGN_PARAMS = { ES256: { name: 'ECDSA', hash: 'SHA-256' }, EdDSA: { name: 'Ed25519' } } as const;
const IMPORT_PARAMS = { ES256: { name: 'ECDSA', namedCurve: 'P-256' }, EdDSA: { name: 'Ed25519' } } as const;

/** Whether `privateKey` is the private half of `publicJwk`: what it signs, that key verifies. */
async function isPair(privateKey: CryptoKey, publicJwk: ClientPublicJwk): Promise<boolean> {
  const alg = algOfPublicJwk(publicJwk);
  const subtle = subtleCrypto();
  try {
    const publicKey = await subtle.importKey('jwk', publicJwk as JsonWebKey, IMPORT_PARAMS[alg], false, ['verify']);
    const probe = crypto.getRandomValues(new Uint8Array(32));
    const signature = await subtle.sign(SIGN_PARAMS[alg], privateKey, probe);
    return await subtle.verify(SIGN_PARAMS[alg], publicKey, signature, probe);
  } catch {
    return false; // a public JWK off its curve, a private key that cannot sign
  }
}

/**
 * Saves a key in IndexedDB under `name`. The CryptoKey is stored by structured clone, so it
 * stays non-extractable: the browser keeps the key material and no script ever sees it.
 * An extractable private key is refused — saving it would let any script on the origin
 * read the secret back later.
 */
export async function saveStampKey(name: string, key: StampKey, options: StampKeyStoreOptions = {}): Promise<void> {
  checkName(name);
  if (typeof key !== 'object' || key === null || !isCryptoKey(key.privateKey)) throw new TypeError('key must be a StampKey from generateStampKey');
  if (key.privateKey.extractable) throw new TypeError('key.privateKey must be non-extractable');
  const publicJwk = publicMembers(key.publicJwk);
  if (publicJwk === undefined) throw new TypeError('key.publicJwk must be a public P-256 or Ed25519 JWK');
  const record: SavedRecord = { v: RECORD_VERSION, privateKey: key.privateKey, publicJwk };
  await withStore(options, 'readwrite', (store) => store.put(record, name));
}

/**
 * The key saved under `name`, or undefined when there is none. A record that is not one, and
 * one that `saveStampKey` would not have written — an extractable private key, or a private
 * key that is not the one of its `publicJwk` — is `corrupt`.
 */
export async function loadSavedStampKey(name: string, options: StampKeyStoreOptions = {}): Promise<StampKey | undefined> {
  checkName(name);
  const record: unknown = await withStore(options, 'readonly', (store) => store.get(name));
  if (record === undefined) return undefined;
  const { v, privateKey, publicJwk } = (typeof record === 'object' && record !== null ? record : {}) as Partial<SavedRecord>;
  const members = typeof publicJwk === 'object' && publicJwk !== null ? publicMembers(publicJwk) : undefined;
  if (v !== RECORD_VERSION || !isCryptoKey(privateKey) || members === undefined) throw new StampKeyStoreError('corrupt');
  if (privateKey.type !== 'private' || privateKey.extractable || privateKey.algorithm.name !== ALGORITHM_OF[algOfPublicJwk(members)]) {
    throw new StampKeyStoreError('corrupt');
  }
  if (!(await isPair(privateKey, members))) throw new StampKeyStoreError('corrupt');
  return assembleStampKey(privateKey, members);
}

/** Forgets the key saved under `name` ("log out"). Resolves whether or not there was one. */
export async function deleteSavedStampKey(name: string, options: StampKeyStoreOptions = {}): Promise<void> {
  checkName(name);
  await withStore(options, 'readwrite', (store) => store.delete(name));
}
