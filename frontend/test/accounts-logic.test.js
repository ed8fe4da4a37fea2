// Unit tests of the page's account logic that needs no browser: the session kept and told, the
// API client's session token and its end at a 401, the routes of the fragment, the account
// controller's ceremonies over a fake API, the words for refusals and field problems, and the
// account dialog's devices and password part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../public/js/session.js';
import { Api, ApiError } from '../public/js/api.js';
import { parseRoute, profileHref } from '../public/js/route.js';
import { AccountController } from '../public/js/accounts.js';
import { sentence, fieldProblems, refusal } from '../public/js/forms.js';
import { passkeyProblem, passkeysWork } from '../public/js/passkeys.js';
import { describeDevices, afterRemoval } from '../public/js/devices.js';
import { passwordWords } from '../public/js/settings.js';

/** memoryStorage is localStorage's interface over a Map. */
function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
    map: m,
  };
}

const alice = { handle: 'alice', display_name: 'Alice', created_at: '2026-01-01T00:00:00Z' };
const TOKEN = 'a'.repeat(43);

test('session: kept across page loads, told to listeners, forgotten at sign-out', () => {
  const storage = memoryStorage();
  const s = new Session(storage);
  const seen = [];
  s.onChange((x, why) => seen.push([why, x.me?.handle ?? null]));
  assert.equal(s.signedIn, false);
  s.signedInAs({ token: TOKEN, account: alice });
  assert.equal(new Session(storage).token, TOKEN, 'a new page load finds the session');
  assert.equal(new Session(storage).me.handle, 'alice');
  s.signOut();
  assert.equal(new Session(storage).signedIn, false);
  assert.deepEqual(seen, [['signed-in', 'alice'], ['signed-out', null]]);
});

test('session: a 401 for an older token does not sign out a newer session', () => {
  const s = new Session(memoryStorage());
  s.signedInAs({ token: TOKEN, account: alice });
  s.ended('b'.repeat(43));
  assert.equal(s.signedIn, true);
  s.ended(TOKEN);
  assert.equal(s.signedIn, false);
});

test('session: garbage kept in storage is no session', () => {
  for (const kept of ['{', 'null', '{"token":1}', '{"token":"x","account":{}}']) {
    const storage = memoryStorage();
    storage.setItem('chirp.session', kept);
    assert.equal(new Session(storage).signedIn, false, kept);
  }
});

test('session: owns compares handles without case; guests are nobody\'s', () => {
  const s = new Session(memoryStorage());
  assert.equal(s.owns({ account: { handle: 'alice' } }), false, 'signed out owns nothing');
  s.signedInAs({ token: TOKEN, account: alice });
  assert.equal(s.owns({ account: { handle: 'Alice' } }), true);
  assert.equal(s.owns({ account: { handle: 'bob' } }), false);
  assert.equal(s.owns({ account: null }), false);
});

test('session: reload follows another tab', () => {
  const storage = memoryStorage();
  const a = new Session(storage);
  const b = new Session(storage);
  const seen = [];
  b.onChange((_, why) => seen.push(why));
  a.signedInAs({ token: TOKEN, account: alice });
  b.reload();
  assert.equal(b.me.handle, 'alice');
  b.reload();
  a.signOut();
  b.reload();
  assert.deepEqual(seen, ['signed-in', 'signed-out']);
});

/** recordingFetch answers every call with status and body, and records {url, method, headers}. */
function recordingFetch(status, body = {}) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url, method: init.method, headers: init.headers ?? {} });
    return {
      status, ok: status >= 200 && status < 300, headers: new Map(),
      json: async () => body,
    };
  };
  f.calls = calls;
  return f;
}

test('api: the session token goes with account calls only, and a 401 to one ends the session', async () => {
  const s = new Session(memoryStorage());
  s.signedInAs({ token: TOKEN, account: alice });
  const ok = recordingFetch(200, []);
  const api = new Api('http://x/', ok, { token: () => s.token, ended: (t) => s.ended(t) });
  await api.tweets({ limit: 5 });
  await api.create('ignored', 'hi', 'k');
  await api.update(3, 'x', 'edit-token');
  await api.update(4, 'x', null);
  const auth = ok.calls.map((c) => c.headers.Authorization ?? null);
  assert.deepEqual(auth, [null, `Bearer ${TOKEN}`, 'Bearer edit-token', `Bearer ${TOKEN}`]);

  // A guest's wrong edit token answered 401 is no news about the session.
  const denied = recordingFetch(401, { error: { code: 'unauthorized', message: 'no' } });
  const api2 = new Api('http://x', denied, { token: () => s.token, ended: (t) => s.ended(t) });
  await assert.rejects(api2.remove(3, 'edit-token'), ApiError);
  assert.equal(s.signedIn, true);
  await assert.rejects(api2.me(), (e) => e.status === 401);
  assert.equal(s.signedIn, false, 'a 401 to a session call signs out');
});

test('api: profile paths escape the handle; paging parameters as the timeline\'s', async () => {
  const f = recordingFetch(200, []);
  const api = new Api('http://x', f);
  await api.accountTweets('al ice', { since_id: 7, max_id: undefined, limit: 20 });
  await api.account('bob');
  assert.deepEqual(f.calls.map((c) => c.url), ['http://x/api/accounts/al%20ice/tweets?since_id=7&limit=20', 'http://x/api/accounts/bob']);
});

test('route: the fragment names the view; other fragments are places, not views', () => {
  assert.deepEqual(parseRoute(''), { view: 'timeline' });
  assert.deepEqual(parseRoute('#/'), { view: 'timeline' });
  assert.deepEqual(parseRoute('#/@alice'), { view: 'profile', handle: 'alice' });
  assert.deepEqual(parseRoute('#/@Alice/'), { view: 'profile', handle: 'Alice' });
  assert.deepEqual(parseRoute('#/@%E2%82%AC'), { view: 'profile', handle: '€' });
  assert.deepEqual(parseRoute('#/@%E2'), { view: 'profile', handle: '%E2' }, 'a broken escape is a handle nobody has');
  assert.equal(parseRoute('#feed'), null);
  assert.equal(parseRoute('#/@'), null);
  assert.equal(parseRoute('#/@a/b'), null);
  assert.equal(profileHref('alice'), '#/@alice');
  assert.deepEqual(parseRoute(profileHref('a b')), { view: 'profile', handle: 'a b' });
});

/** fakeApi answers the account calls from answers (name → value or Error) and records them. */
function fakeApi(answers) {
  const asked = [];
  const answer = (name, ...args) => {
    asked.push([name, ...args]);
    const a = answers[name];
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(typeof a === 'function' ? a(...args) : a);
  };
  const api = new Proxy({}, { get: (_, name) => (...args) => answer(name, ...args) });
  return { api, asked };
}

test('accounts: a passkey sign-in asks for options, the browser, and the server, with no handle', async () => {
  const session = new Session(memoryStorage());
  const { api, asked } = fakeApi({
    passkeyOptions: { ceremony: 'c1', publicKey: { challenge: 'xyz' } },
    passkeyFinish: { token: TOKEN, account: alice },
  });
  const used = [];
  const accounts = new AccountController({ api, session, passkeys: { use: async (pk) => { used.push(pk); return { id: 'cred' }; } } });
  await accounts.signInWithPasskey();
  assert.deepEqual(used, [{ challenge: 'xyz' }]);
  assert.deepEqual(asked, [['passkeyOptions', 'signin'], ['passkeyFinish', 'signin', 'c1', { id: 'cred' }]]);
  assert.equal(session.me.handle, 'alice');
});

test('accounts: a cancelled ceremony signs nobody in; a new sign-in ends the session it replaces', async () => {
  const session = new Session(memoryStorage());
  const cancelled = Object.assign(new Error('cancelled'), { name: 'NotAllowedError' });
  const { api, asked } = fakeApi({
    passkeyOptions: { ceremony: 'c1', publicKey: {} },
    signIn: (handle) => ({ token: handle === 'alice' ? TOKEN : 'b'.repeat(43), account: alice }),
    endSession: null,
  });
  const accounts = new AccountController({ api, session, passkeys: { create: async () => { throw cancelled; } } });
  await assert.rejects(accounts.signUpWithPasskey('alice', 'Alice'), cancelled);
  assert.equal(session.signedIn, false);
  assert.deepEqual(asked.at(-1), ['passkeyOptions', 'signup', { handle: 'alice', display_name: 'Alice' }]);
  await accounts.signIn('alice', 'pw');
  await accounts.signIn('again', 'pw');
  assert.deepEqual(asked.at(-1), ['endSession', TOKEN]);
  assert.equal(session.token, 'b'.repeat(43));
});

test('accounts: sign-out forgets the session even when the server cannot be told; delete needs the server\'s yes', async () => {
  const session = new Session(memoryStorage());
  session.signedInAs({ token: TOKEN, account: alice });
  const forbidden = new ApiError(403, 'forbidden', 'sign in again to delete your account (within the last 10 minutes)');
  const { api } = fakeApi({ signOut: new ApiError(0, 'network', 'unreachable'), deleteMe: forbidden });
  const accounts = new AccountController({ api, session });
  await assert.rejects(accounts.deleteAccount(), forbidden);
  assert.equal(session.signedIn, true, 'a refused delete leaves the page signed in');
  await accounts.signOut();
  assert.equal(session.signedIn, false);
});

test('forms: field problems at their fields, a 409 at the handle, a 429 as the wait', () => {
  const invalid = new ApiError(422, 'invalid', 'invalid', { handle: 'handle is required', password: 'is too common', other: 'x' });
  assert.deepEqual(fieldProblems(invalid, ['handle', 'password']), { handle: 'Handle is required.', password: 'Is too common.' });
  const taken = new ApiError(409, 'conflict', 'the handle @alice is taken');
  assert.deepEqual(fieldProblems(taken, ['handle']), { handle: 'The handle @alice is taken.' });
  assert.deepEqual(fieldProblems(taken, []), {});
  assert.equal(refusal(new ApiError(429, 'rate_limited', 'slow down', {}, 12)), 'Too many tries — try again in 12 s.');
  assert.equal(refusal(new ApiError(401, 'unauthorized', 'handle or password is wrong')), 'Handle or password is wrong.');
  assert.equal(sentence('done.'), 'Done.');
});

test('passkeys: the browser\'s refusals in words; server errors left to the caller', () => {
  assert.match(passkeyProblem(Object.assign(new Error(''), { name: 'NotAllowedError' })), /cancelled/);
  assert.equal(passkeyProblem(new ApiError(401, 'unauthorized', 'this passkey cannot sign in')), null);
  assert.equal(passkeysWork({}), false);
  assert.equal(passkeysWork({ PublicKeyCredential: { parseCreationOptionsFromJSON() {}, parseRequestOptionsFromJSON() {} }, navigator: { credentials: {} } }), true);
});

/** recorder is a view whose every method call is recorded as [name, ...args]. */
function recorder(calls) {
  return new Proxy({}, { get: (_, name) => (...args) => { calls.push([name, ...args]); } });
}

/** deferred is a promise with its resolve. */
function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

test('controller: a stopped controller\'s late answers show nowhere; it pages the list it was given', async () => {
  const { TimelineController } = await import('../public/js/controller.js');
  const { TweetStore } = await import('../public/js/store.js');
  const calls = [];
  const asked = [];
  const page = deferred();
  const c = new TimelineController({
    api: {},
    list: (params) => { asked.push(params); return page.promise; },
    store: new TweetStore(),
    tokens: {},
    timeline: recorder(calls),
    paging: recorder(calls),
    newTweets: recorder(calls),
  });
  const loading = c.load();
  assert.deepEqual(asked, [{ limit: 20 }], 'the first page is asked of the list given');
  c.stop();
  const before = calls.length;
  page.resolve([{ id: 1, author: 'a', content: 'x', created_at: 'x', updated_at: 'x', account: { handle: 'dan' } }]);
  await loading;
  assert.deepEqual(calls.slice(before), [], 'nothing reached the views after stop');
  assert.equal(c.store.size, 1, 'its own store still took the page');
});

test('router: a profile whose account answers after the reader left shows nothing; an unknown handle is "no such account"', async () => {
  const { Router } = await import('../public/js/router.js');
  const shown = [];
  const dan = deferred();
  const api = {
    account: (h) => (h === 'dan' ? dan.promise : Promise.reject(new ApiError(404, 'not_found', 'no such account'))),
    tweets: () => Promise.resolve([]),
    accountTweets: () => Promise.resolve([]),
  };
  const view = {
    timeline: () => { shown.push('timeline'); return 'Chirp'; },
    loading: (h) => shown.push(`loading ${h}`),
    account: (a) => { shown.push(`account ${a.handle}`); return a.handle; },
    noSuchAccount: (h, err) => { shown.push(`none ${h} ${err.status}`); return 'none'; },
    focus() {},
  };
  const lists = [];
  const router = new Router({
    api, view, clear: () => shown.push('clear'), retitle: () => {},
    controllerFor: (list) => { lists.push(list); return { load() {}, stop() { shown.push('stop'); } }; },
  });
  const going = router.go('#/@dan');
  await router.go('#/');
  dan.resolve({ handle: 'dan', display_name: 'Dan' });
  await going;
  assert.deepEqual(shown, ['clear', 'loading dan', 'clear', 'timeline']);
  assert.equal(lists.length, 1, 'one controller: the timeline\'s');
  await router.go('#feed');
  assert.equal(shown.at(-1), 'timeline', 'a place in the view changes nothing');
  await router.go('#/@nobody');
  assert.deepEqual(shown.slice(-4), ['stop', 'clear', 'loading nobody', 'none nobody 404']);
});

test('api: devices and the password go to their routes with the session', async () => {
  const f = recordingFetch(204);
  const api = new Api('http://x', f, { token: () => TOKEN, ended() {} });
  await api.sessions();
  await api.signOutSession(7);
  await api.setPassword('pw');
  assert.deepEqual(f.calls.map((c) => [c.method, c.url, c.headers.Authorization]), [
    ['GET', 'http://x/api/sessions', `Bearer ${TOKEN}`],
    ['DELETE', 'http://x/api/sessions/7', `Bearer ${TOKEN}`],
    ['PUT', 'http://x/api/me/password', `Bearer ${TOKEN}`],
  ]);
});

test('accounts: a password set is kept as has_password; a refused one (403, 422) changes nothing', async () => {
  const session = new Session(memoryStorage());
  session.signedInAs({ token: TOKEN, account: { ...alice, has_password: false } });
  const forbidden = new ApiError(403, 'forbidden', 'sign in again to change your password (within the last 10 minutes)');
  let answer = forbidden;
  const { api, asked } = fakeApi({ setPassword: () => (answer instanceof Error ? Promise.reject(answer) : answer), me: { ...alice, has_password: false, passkeys: 1 } });
  const accounts = new AccountController({ api, session });
  const seen = [];
  session.onChange((x, why) => seen.push([why, x.me.has_password]));
  await assert.rejects(accounts.setPassword('a fine password'), forbidden);
  assert.equal(session.me.has_password, false);
  answer = null;
  await accounts.setPassword('a fine password');
  assert.deepEqual(asked.filter(([n]) => n === 'setPassword').map(([, pw]) => pw), ['a fine password', 'a fine password']);
  assert.equal(session.me.has_password, true);
  assert.equal(new Session(session.storage).me.has_password, true, 'kept for the next page load');
  const me = await accounts.account();
  assert.equal(me.passkeys, 1);
  assert.deepEqual(seen, [['refreshed', true], ['refreshed', false]], 'told at the change, and when /api/me answered');
});

test('accounts: devices are listed and one signed out by its id', async () => {
  const session = new Session(memoryStorage());
  session.signedInAs({ token: TOKEN, account: alice });
  const list = [{ id: 2, created_at: 'x', last_used_at: 'y', current: true }];
  const { api, asked } = fakeApi({ sessions: list, signOutSession: null });
  const accounts = new AccountController({ api, session });
  assert.deepEqual(await accounts.deviceList(), list);
  await accounts.endSession(9);
  assert.deepEqual(asked, [['sessions'], ['signOutSession', 9]]);
});

test('devices: this device first, the others in the server\'s order, said with their times', () => {
  const when = (s) => `<${s}>`;
  const rows = describeDevices([
    { id: 5, created_at: 't5', last_used_at: 'u5', current: false },
    { id: 4, created_at: 't4', last_used_at: 'u4', current: true },
    { id: 3, created_at: 't3', last_used_at: 'u3', current: false },
  ], when);
  assert.deepEqual(rows, [
    { id: 4, current: true, text: 'This device' },
    { id: 5, current: false, text: 'Signed in <t5>, last used <u5>' },
    { id: 3, current: false, text: 'Signed in <t3>, last used <u3>' },
  ]);
  assert.deepEqual(describeDevices([]), []);
  // The real formatting names the time, so two sign-ins of one day read apart.
  const [a, b] = describeDevices([
    { id: 1, created_at: '2026-12-05T09:00:00.000Z', last_used_at: '2026-12-05T09:00:00.000Z', current: false },
    { id: 2, created_at: '2026-12-05T15:30:00.000Z', last_used_at: '2026-12-05T15:30:00.000Z', current: false },
  ]);
  assert.notEqual(a.text, b.text);
});

test('devices: after a removal the focus goes to the row that took its place, else the one before, else none', () => {
  assert.equal(afterRemoval(['a', 'b', 'c'], 0), 'b');
  assert.equal(afterRemoval(['a', 'b', 'c'], 1), 'c');
  assert.equal(afterRemoval(['a', 'b', 'c'], 2), 'b');
  assert.equal(afterRemoval(['a'], 0), null);
});

test('password: "Add a password" for a passkey-only account, "Change password" otherwise', () => {
  assert.deepEqual(passwordWords(false), { about: 'You sign in with passkeys only. A password is another way in.', submit: 'Add a password', done: 'Password added.' });
  assert.equal(passwordWords(true).submit, 'Change password');
  assert.equal(passwordWords(true).done, 'Password changed. Your other devices are signed out.');
});
