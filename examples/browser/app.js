import { createStampedFetch, deleteSavedStampKey, generateStampKey, loadSavedStampKey, saveStampKey } from '/ipstamp.js';

const KEY_NAME = 'ipstamp-example';
const $ = (id) => document.getElementById(id);

let key;
let stampedFetch;
/** The last stamped request exactly as it went out, so "Replay" can send it again unchanged. */
let lastSent;
let count = 0;

/** The fetch the SDK sends through: it remembers each stamped request, then sends it as is. */
function recordingFetch(input, init) {
  const headers = new Headers(init?.headers);
  if (headers.has('client-ip-attestation')) lastSent = { input, init: { ...init, headers } };
  return fetch(input, init);
}

function useKey(next, stored) {
  key = next;
  // 'echo': learn our address from the server's /.well-known/ipstamp; bodyDigest: sign the body too
  stampedFetch = createStampedFetch({ key, ip: 'echo', bodyDigest: true, fetch: recordingFetch });
  lastSent = undefined;
  $('kid').textContent = key.kid;
  $('alg').textContent = key.alg;
  $('stored').textContent = stored;
  setLoggedIn(false);
}

function setLoggedIn(loggedIn) {
  $('registered').textContent = loggedIn ? 'yes' : 'no';
  $('logout').disabled = !loggedIn;
  for (const id of ['login', 'new-key', 'get', 'post']) $(id).disabled = false;
  $('replay').disabled = lastSent === undefined;
}

function say(text) {
  $('status').textContent = text;
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text ?? '—';
  if (className) td.className = className;
  return td;
}

async function show(label, response) {
  const body = await response.json().catch(() => ({}));
  const verdict = body.verdict ?? {};
  const row = document.createElement('tr');
  row.append(
    cell(String(++count)),
    cell(label, 'mono'),
    cell(`${response.status} ${response.ok ? 'accepted' : 'rejected'}`, response.ok ? 'ok' : 'bad'),
    cell(verdict.ip, 'mono'),
    cell(verdict.agreement),
    cell(body.reason, body.reason ? 'bad mono' : undefined),
  );
  $('results').prepend(row);
  $('replay').disabled = lastSent === undefined;
}

async function run(label, action) {
  try {
    say('');
    await show(label, await action());
  } catch (error) {
    say(`${label}: ${error.name}: ${error.message}`);
  }
}

$('login').onclick = async () => {
  const response = await fetch('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jwk: key.publicJwk }),
  });
  setLoggedIn(response.status === 201);
  say(response.status === 201 ? 'Logged in: the server registered the public key for one hour.' : `Login failed (${response.status}).`);
};

$('logout').onclick = () =>
  run('POST /logout', async () => {
    const response = await stampedFetch('/logout', { method: 'POST' });
    if (response.ok) setLoggedIn(false);
    return response;
  });

$('get').onclick = () => run('GET /api/hello', () => stampedFetch('/api/hello'));

$('post').onclick = () =>
  run('POST /api/orders', () =>
    stampedFetch('/api/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'tea', quantity: 2 }),
    }),
  );

$('replay').onclick = () => {
  const { input, init } = lastSent;
  // the same header, method and body, sent again: the server has already seen this jti
  // the SDK hands fetch the absolute URL it signed; the log shows its path
  return run(`replay of ${init.method} ${new URL(input, document.baseURI).pathname}`, () => fetch(input, init));
};

$('new-key').onclick = async () => {
  await deleteSavedStampKey(KEY_NAME);
  const fresh = await generateStampKey({ alg: $('new-alg').value });
  await saveStampKey(KEY_NAME, fresh);
  useKey(fresh, 'IndexedDB (new, not extractable)');
  say('New key generated: log in to register it.');
};

async function start() {
  try {
    const saved = await loadSavedStampKey(KEY_NAME);
    if (saved) {
      useKey(saved, 'IndexedDB (loaded, not extractable)');
    } else {
      const fresh = await generateStampKey();
      await saveStampKey(KEY_NAME, fresh);
      useKey(fresh, 'IndexedDB (new, not extractable)');
    }
    document.body.dataset.ready = 'true';
  } catch (error) {
    say(`Could not set up a key: ${error.name}: ${error.message}`);
  }
}

start();
