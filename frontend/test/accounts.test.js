// End-to-end tests of accounts in Chirp's real page (frontend/public) in headless Chromium, for
// the real API and `chirp web`: the password way (sign up, post as @handle, another browser
// signs in, edits and deletes, "sign out everywhere else" ends the first), the passkey way with
// Chromium's virtual authenticator (a passkey copied to a second context, as a synced passkey
// reaches a second device), a password added to a passkey account and changed, the signed-in
// devices listed and one signed out from another, the composer when the server takes no guest
// posts, the profile view, and axe-core on every new state in both colour schemes.
//
// The page is served at http://localhost:<port>: a passkey's relying party is localhost
// (WEBAUTHN_RP_ID), and the API is told that origin (WEBAUTHN_ORIGINS).
import assert from 'node:assert/strict';
import { apiRequest, startWeb } from './support/page.js';
import { postTweet } from './support/server.js';
import { freePort } from './support/balancer.js';
import { until } from './support/wait.js';
import { browserTests, assertClean } from './support/e2e.js';
import { axeScan, isWcag, describeResults, a11yContext } from './support/a11y.js';

const e2e = browserTests();

/**
 * localWorld starts `chirp web` and the API so that the page is at http://localhost:<port> and
 * the API accepts passkeys from there. env: more of the API's variables.
 */
async function localWorld({ backend, defer }, env = {}) {
  const apiPort = await freePort();
  const w = await startWeb({ apiUrl: `http://127.0.0.1:${apiPort}` });
  defer(async () => { await w.stop(); });
  const page = `http://localhost:${w.port}`;
  const api = await backend({ port: apiPort, env: { WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: page, ...env } });
  return { api, web: { url: `${page}/` } };
}

/** accountApi signs up through the API; returns {token, account}. */
async function signUpApi(apiUrl, handle, password = 'correct horse battery') {
  const r = await apiRequest(apiUrl, 'POST', '/api/accounts', { body: { handle, display_name: handle[0].toUpperCase() + handle.slice(1), password } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function postAs(apiUrl, token, content) {
  const res = await fetch(`${apiUrl}/api/tweets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ content }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text);
}

/** headerState is what the header's account part shows. */
function headerState(h) {
  return h.page.evaluate(() => ({
    signedOut: !document.querySelector('#signed-out').hidden,
    me: document.querySelector('#signed-in').hidden ? null : document.querySelector('#me-link').textContent,
    note: document.querySelector('#account-note').textContent,
  }));
}

async function signUpWithPassword(h, handle, name, password) {
  await h.page.getByRole('button', { name: 'Sign up', exact: true }).click();
  const d = h.page.locator('#signup');
  await d.waitFor({ state: 'visible' });
  await d.getByLabel('Handle').fill(handle);
  await d.getByLabel('Display name').fill(name);
  await d.getByLabel('Password').fill(password);
  await d.getByRole('button', { name: 'Sign up with a password' }).click();
}

async function signInWithPassword(h, handle, password) {
  await h.page.locator('#signed-out').getByRole('button', { name: 'Sign in' }).click();
  const d = h.page.locator('#signin');
  await d.waitFor({ state: 'visible' });
  await d.getByLabel('Handle').fill(handle);
  await d.getByLabel('Password').fill(password);
  await d.locator('button[type=submit]').click();
}

const waitSignedIn = (h, handle) => until(async () => (await headerState(h)).me === `@${handle}`, `${h.name}: signed in as @${handle}`);
const waitSignedOut = (h) => until(async () => (await headerState(h)).signedOut, `${h.name}: signed out`);

/** fieldState is a field's problem as the page shows it: {invalid, message (its described-by text)}. */
function fieldState(h, id) {
  return h.page.$eval(`#${id}`, (input) => ({
    invalid: input.getAttribute('aria-invalid') === 'true',
    message: (input.getAttribute('aria-describedby') ?? '').split(/\s+/).map((x) => document.getElementById(x))
      .filter((x) => x?.classList.contains('field-problem')).map((x) => x.textContent).join(' '),
  }));
}

/** virtualAuthenticator gives a context's page a platform authenticator that holds passkeys and verifies its user. */
async function virtualAuthenticator(h) {
  const cdp = await h.context.newCDPSession(h.page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

/** editAndDelete edits tweet id in tab `from`, waits for `to` to show the edit, then deletes it there and waits for `to` to lose it. */
async function editAndDelete(from, to, id, text) {
  await from.tweet(id).locator('[data-action="edit"]').click();
  await from.tweet(id).locator('textarea').fill(text);
  await from.tweet(id).locator('[data-action="save"]').click();
  await until(async () => (await to.tweets()).find((t) => t.id === id)?.content === text, `${to.name} shows ${from.name}'s edit`);
  await from.tweet(id).locator('[data-action="delete"]').click();
  await from.page.locator('#confirm-delete button[value="delete"]').click();
  await until(async () => !(await to.ids()).includes(id), `${to.name} loses the tweet ${from.name} deleted`);
}

// 1 ----------------------------------------------------------------------------------------
e2e('the password way: sign up, post as @handle; another browser signs in, edits and deletes it; sign out everywhere else ends the first', { timeout: 90_000 }, async (ctx) => {
  const { api, web } = await localWorld(ctx);
  const a = await ctx.open(web, 'A');
  assert.deepEqual(await headerState(a), { signedOut: true, me: null, note: '' });

  // The rules are shown before anything is typed; what the server refuses shows at its field.
  await signUpWithPassword(a, 'alice', 'Alice', 'short');
  await until(async () => (await fieldState(a, 'signup-password')).invalid, 'a short password is refused at its field');
  assert.match((await fieldState(a, 'signup-password')).message, /8/);
  assert.match(await a.page.locator('#signup-password-hint').textContent(), /8 to 128 characters.*commonest/);
  await a.page.locator('#signup').getByLabel('Password').fill('a long and fine password');
  await a.page.locator('#signup').getByRole('button', { name: 'Sign up with a password' }).click();
  await waitSignedIn(a, 'alice');
  assert.equal(await a.page.isHidden('#signup'), true, 'the dialog closed');
  assert.equal(await a.page.isHidden('#name'), true, 'no name field when signed in');
  assert.equal(await a.page.textContent('#posting-as'), 'Posting as @alice');

  const id = await a.post('hello as alice');
  const mine = a.tweet(id);
  assert.equal(await mine.locator('.author').textContent(), 'Alice');
  assert.equal(await mine.locator('a.handle').textContent(), '@alice');
  assert.equal(await mine.locator('a.handle').getAttribute('href'), '#/@alice');
  assert.equal(await mine.locator('[data-action="edit"]').count(), 1, 'Edit on one\'s own account tweet');
  const stored = (await apiRequest(api.url, 'GET', `/api/tweets/${id}`)).body;
  assert.deepEqual(stored.account, { handle: 'alice', display_name: 'Alice' });
  assert.equal(await a.page.evaluate(() => localStorage.getItem('chirp.editTokens') ?? '{}'), '{}', 'an account tweet keeps no edit token');

  // Another browser: the handle is taken; a wrong password is refused without saying which part.
  const b = await ctx.open(web, 'B');
  assert.equal(await b.tweet(id).locator('[data-action]').count(), 0, 'signed out, B may not edit it');
  await signUpWithPassword(b, 'alice', 'Other Alice', 'another fine password');
  await until(async () => (await fieldState(b, 'signup-handle')).invalid, 'a taken handle is refused at its field');
  assert.match((await fieldState(b, 'signup-handle')).message, /taken/i);
  await b.page.locator('#signup').press('Escape');
  await b.page.locator('#signup').waitFor({ state: 'hidden' });
  await signInWithPassword(b, 'alice', 'not the password');
  await until(async () => /wrong/i.test(await b.page.locator('#signin .dialog-error').textContent()), 'a wrong password is said');
  await b.page.locator('#signin').getByLabel('Password').fill('a long and fine password');
  await b.page.locator('#signin button[type=submit]').click();
  await waitSignedIn(b, 'alice');

  // B edits and deletes the tweet A posted; A sees both.
  await editAndDelete(b, a, id, 'edited on B');

  // B signs out everywhere else: A's next act finds itself signed out, and says so.
  await b.page.getByRole('button', { name: 'Account' }).click();
  await b.page.locator('#settings').getByRole('button', { name: 'Sign out everywhere else' }).click();
  await until(async () => (await b.page.textContent('#settings .settings-status')) === 'Signed out 1 other session.', 'B says one other session ended');
  await b.page.locator('#settings').getByRole('button', { name: 'Close' }).click();
  assert.equal((await headerState(b)).me, '@alice', 'B stays signed in');

  await a.page.fill('#content', 'posted after my session ended');
  await a.page.click('#composer button[type=submit]');
  await waitSignedOut(a);
  assert.match((await headerState(a)).note, /signed out/i);
  assert.match(await a.page.textContent('#compose-error'), /signed out/i);
  assert.equal(await a.page.inputValue('#content'), 'posted after my session ended', 'the text is kept');
  assert.equal(await a.page.isVisible('#name'), true, 'the guest\'s name field is back');

  // B adds a passkey of its device to the password account, and removes it again.
  await virtualAuthenticator(b);
  await b.page.getByRole('button', { name: 'Account' }).click();
  await b.page.locator('#settings').getByRole('button', { name: 'Add a passkey' }).click();
  await until(async () => (await b.page.locator('#passkey-list li button').count()) === 1, 'B lists the passkey it added');
  assert.match(await b.page.textContent('#passkey-list li'), /^Passkey 1, added .*, never used/);
  await b.page.locator('#passkey-list').getByRole('button', { name: 'Remove' }).click();
  await until(async () => (await b.page.textContent('#passkey-list')) === 'No passkeys yet.', 'B removed it');
  assert.equal(await b.page.textContent('#settings .settings-status'), 'Passkey removed.');
  await b.page.locator('#settings').press('Escape');

  // B's own sign-out.
  await b.page.getByRole('button', { name: 'Sign out' }).click();
  await waitSignedOut(b);
  assert.equal(await b.page.evaluate(() => localStorage.getItem('chirp.session')), null);
  // A's 401 on its POST is a console error of the browser's own; nothing else went wrong.
  assertClean(a, { allow: [/status of (401|422)/] });
  assertClean(b, { allow: [/status of (401|409)/] });
});

// 2 ----------------------------------------------------------------------------------------
e2e('the profile at #/@handle shows only that account\'s tweets, goes live, links back; an unknown handle is "No such account"', { timeout: 60_000 }, async (ctx) => {
  const { api, web } = await localWorld(ctx);
  const dan = await signUpApi(api.url, 'dan');
  const eve = await signUpApi(api.url, 'eve');
  const d1 = await postAs(api.url, dan.token, 'dan one');
  await postAs(api.url, eve.token, 'eve one');
  await postTweet(api.url, 'a guest called dan', 'Dan');
  const d2 = await postAs(api.url, dan.token, 'dan two');

  const a = await ctx.open(web, 'A');
  await until(async () => (await a.ids()).length === 4, 'the timeline shows all four');
  await a.tweet(d2.id).locator('a.handle').click();
  await until(async () => (await a.page.textContent('#profile-handle')) === '@dan', 'the profile shows @dan');
  assert.equal(await a.page.textContent('#profile-name'), 'Dan');
  assert.equal(await a.page.evaluate(() => document.activeElement.id), 'profile-name', 'the focus is on the profile\'s heading');
  await until(async () => JSON.stringify(await a.ids()) === JSON.stringify([d2.id, d1.id]), 'only dan\'s tweets, newest first');
  assert.equal(await a.page.isHidden('#composer'), true, 'no composer on a profile');
  assert.match(await a.page.title(), /Dan \(@dan\)/);
  // The skip link moves the focus to the list without leaving the profile (nor its place in the history).
  await a.page.locator('a.skip').focus();
  await a.page.keyboard.press('Enter');
  assert.equal(await a.page.evaluate(() => location.hash), '#/@dan');
  assert.equal(await a.page.evaluate(() => document.activeElement.id), 'feed');

  // Live: a tweet of eve's or a guest's is not offered here; dan's is.
  const t0 = Date.now();
  await postAs(api.url, eve.token, 'eve two');
  await a.waitForCheckAfter(t0).catch(() => {});
  const d3 = await postAs(api.url, dan.token, 'dan three');
  await a.page.waitForFunction(() => {
    const b = document.querySelector('#new-tweets');
    return !b.hidden && b.textContent === 'Show 1 new tweet';
  }, undefined, { timeout: 5_000, polling: 20 });
  await a.button().click();
  await until(async () => (await a.ids())[0] === d3.id, 'dan three shows at the top');
  assert.deepEqual(await a.ids(), [d3.id, d2.id, d1.id]);

  await a.page.getByRole('link', { name: '← Back to the timeline' }).click();
  await until(async () => (await a.ids()).length === 6, 'the timeline again, with every tweet');
  assert.equal(await a.page.isVisible('#composer'), true);

  await a.page.goto(`${web.url}#/@nobody_here`);
  await a.page.locator('#no-account').waitFor({ state: 'visible' });
  assert.equal(await a.page.textContent('#no-account h2'), 'No such account');
  assert.equal(await a.page.isHidden('#feed'), true);
  assertClean(a, { allow: [/status of 404/] });
});

// 3 ----------------------------------------------------------------------------------------
e2e('passkeys: sign up in A; the passkey synced to B signs in there with no handle; B posts, A is offered it, edits and deletes it; A signs B out', { timeout: 90_000 }, async (ctx) => {
  const { api, web } = await localWorld(ctx);
  const a = await ctx.open(web, 'A');
  const authA = await virtualAuthenticator(a);
  await a.page.getByRole('button', { name: 'Sign up', exact: true }).click();
  const up = a.page.locator('#signup');
  await up.getByLabel('Handle').fill('pat');
  await up.getByLabel('Display name').fill('Pat');
  await up.getByRole('button', { name: 'Sign up with a passkey' }).click();
  await waitSignedIn(a, 'pat');
  const { credentials } = await authA.cdp.send('WebAuthn.getCredentials', { authenticatorId: authA.authenticatorId });
  assert.equal(credentials.length, 1, 'A\'s authenticator holds one passkey');
  assert.equal(credentials[0].isResidentCredential, true, 'a discoverable one');

  const b = await ctx.open(web, 'B');
  const authB = await virtualAuthenticator(b);
  await authB.cdp.send('WebAuthn.addCredential', { authenticatorId: authB.authenticatorId, credential: credentials[0] });
  await b.page.locator('#signed-out').getByRole('button', { name: 'Sign in' }).click();
  await b.page.locator('#signin').getByRole('button', { name: 'Sign in with a passkey' }).click();
  await waitSignedIn(b, 'pat');
  assert.equal(await b.page.inputValue('#signin-handle'), '', 'no handle was typed');

  const id = await b.post('from my second device');
  await a.waitForButton('Show 1 new tweet');
  await a.button().click();
  await until(async () => (await a.ids())[0] === id, 'A shows B\'s tweet');
  assert.equal(await a.tweet(id).locator('a.handle').textContent(), '@pat');

  await editAndDelete(a, b, id, 'edited on the first device');

  // The settings list the passkey; A signs out everywhere else, and B finds itself signed out.
  await a.page.getByRole('button', { name: 'Account' }).click();
  await until(async () => (await a.page.locator('#passkey-list li button').count()) === 1, 'A lists one passkey');
  // This device holds the passkey already (the server excludes it), and it is pat's last way in.
  await a.page.locator('#settings').getByRole('button', { name: 'Add a passkey' }).click();
  await until(async () => /already holds a passkey/.test(await a.page.textContent('#settings .dialog-error')), 'adding a second passkey on the same device is refused, in words');
  await a.page.locator('#passkey-list').getByRole('button', { name: 'Remove' }).click();
  await until(async () => /last way to sign in/.test(await a.page.textContent('#settings .dialog-error')), 'the last way in is kept, and the page says why');
  assert.equal(await a.page.locator('#passkey-list li button').count(), 1);
  await a.page.locator('#settings').getByRole('button', { name: 'Sign out everywhere else' }).click();
  await until(async () => (await a.page.textContent('#settings .settings-status')) === 'Signed out 1 other session.', 'one other session ended');
  await a.page.locator('#settings').press('Escape');

  await b.page.fill('#content', 'am I still signed in?');
  await b.page.click('#composer button[type=submit]');
  await waitSignedOut(b);
  const me = await apiRequest(api.url, 'GET', '/api/me', { token: await a.page.evaluate(() => JSON.parse(localStorage.getItem('chirp.session')).token) });
  assert.equal(me.status, 200, 'A\'s session lives on');
  assertClean(a, { allow: [/status of 409/] });
  assertClean(b, { allow: [/status of 401/] });
});

// 4 ----------------------------------------------------------------------------------------
/** scan fails the test with every WCAG A/AA violation and best-practice finding of axe in h's page. */
async function scan(h, label, failures) {
  const { violations } = await axeScan(h.page);
  for (const r of violations) {
    for (const line of describeResults([r]).split('\n').filter(Boolean)) failures.push(`${label}: ${line}${isWcag(r) ? '' : ' (best practice)'}`);
  }
}

for (const scheme of ['light', 'dark']) {
  e2e(`axe-core on the account states, ${scheme} scheme: dialogs (with field problems), signed in, settings, profile, no such account`, { timeout: 120_000 }, async (ctx) => {
    const failures = [];
    const { api, web } = await localWorld(ctx);
    const fay = await signUpApi(api.url, 'fay');
    await postAs(api.url, fay.token, 'fay was here');
    const a = await ctx.open(web, 'A', { contextOptions: a11yContext(scheme) });
    await scan(a, 'signed out header', failures);
    await a.page.getByRole('button', { name: 'Sign in' }).first().click();
    await a.page.locator('#signin').waitFor({ state: 'visible' });
    await scan(a, 'sign-in dialog', failures);
    await a.page.locator('#signin button[type=submit]').click();
    await until(async () => (await fieldState(a, 'signin-handle')).invalid, 'blank handle refused');
    await scan(a, 'sign-in dialog with problems', failures);
    await a.page.locator('#signin').press('Escape');
    await signUpWithPassword(a, 'fay', 'Fay', 'short');
    await until(async () => (await fieldState(a, 'signup-handle')).invalid || (await fieldState(a, 'signup-password')).invalid, 'refused at a field');
    await scan(a, 'sign-up dialog with problems', failures);
    await a.page.locator('#signup').press('Escape');
    await signInWithPassword(a, 'fay', 'correct horse battery');
    await waitSignedIn(a, 'fay');
    await scan(a, 'signed in (header, composer, own account tweet)', failures);
    await a.page.getByRole('button', { name: 'Account' }).click();
    await until(async () => (await a.page.locator('#passkey-list li').count()) === 1, 'the passkey list');
    // Two devices: the API's sign-up and this page's sign-in, the other with its "Sign out".
    await until(async () => (await a.page.locator('#device-list li').count()) === 2, 'the device list');
    await a.page.locator('#settings').getByRole('button', { name: 'Change password' }).waitFor({ state: 'visible' });
    await scan(a, 'settings dialog (devices, password, passkeys)', failures);
    await a.page.locator('#settings').getByLabel('New password').fill('short');
    await a.page.locator('#settings').getByRole('button', { name: 'Change password' }).click();
    await until(async () => (await fieldState(a, 'new-password')).invalid, 'a short password refused at its field');
    await scan(a, 'settings: password refused at its field', failures);
    await forbidOnce(a, 'PUT', '**/api/me/password', 'change your password');
    await a.page.locator('#settings').getByLabel('New password').fill('fay changes her password');
    await a.page.locator('#settings').getByRole('button', { name: 'Change password' }).click();
    await a.page.locator('#settings form [data-action="signin-again"]').waitFor({ state: 'visible' });
    await scan(a, 'settings: a fresh sign-in asked for', failures);
    await a.page.locator('#settings [data-action="delete-account"]').click();
    await a.page.locator('#confirm-delete-account').waitFor({ state: 'visible' });
    await scan(a, 'delete account confirmation', failures);
    await a.page.locator('#confirm-delete-account button[value="cancel"]').click();
    await a.page.locator('#settings').press('Escape');
    await a.page.goto(`${web.url}#/@fay`);
    await until(async () => (await a.ids()).length === 1, 'fay\'s profile');
    await scan(a, 'profile', failures);
    await a.page.goto(`${web.url}#/@nobody`);
    await a.page.locator('#no-account').waitFor({ state: 'visible' });
    await scan(a, 'no such account', failures);
    await a.page.getByRole('button', { name: 'Sign out' }).click();
    await waitSignedOut(a);
    await scan(a, 'signed out, with the note', failures);
    assert.deepEqual(failures, []);
  });
}

/**
 * forbidOnce answers h's next `method` to `url` as the server does for a sign-in older than 10
 * minutes: 403 "sign in again to <what> …".
 */
async function forbidOnce(h, method, url, what) {
  let refused = false;
  await h.page.route(url, (route) => {
    if (route.request().method() !== method || refused) return route.fallback();
    refused = true;
    return route.fulfill({
      status: 403,
      contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'forbidden', message: `sign in again to ${what} (within the last 10 minutes)` } }),
    });
  });
}

// 5 ----------------------------------------------------------------------------------------
e2e('deleting an account: confirmed; a sign-in too old (403) is explained and a fresh one offered; then the tweets go everywhere and the page is signed out', { timeout: 60_000 }, async (ctx) => {
  const { api, web } = await localWorld(ctx);
  const gil = await signUpApi(api.url, 'gil', 'gil has a password');
  const posted = await postAs(api.url, gil.token, 'soon gone');
  const a = await ctx.open(web, 'A');
  const b = await ctx.open(web, 'B');
  await signInWithPassword(a, 'gil', 'gil has a password');
  await waitSignedIn(a, 'gil');
  await forbidOnce(a, 'DELETE', '**/api/me', 'delete your account');
  await a.page.getByRole('button', { name: 'Account' }).click();
  await a.page.locator('#settings [data-action="delete-account"]').click();
  await a.page.locator('#confirm-delete-account button[value="delete"]').click();
  await until(async () => /within the last 10 minutes/.test(await a.page.textContent('#settings .dialog-error')), 'the 403 is explained');
  assert.equal(await a.page.evaluate(() => document.activeElement.dataset.action), 'signin-again', 'the offer to sign in again has the focus');
  await a.page.keyboard.press('Enter');
  await a.page.locator('#signin').waitFor({ state: 'visible' });
  await a.page.locator('#signin').getByLabel('Handle').fill('gil');
  await a.page.locator('#signin').getByLabel('Password').fill('gil has a password');
  await a.page.locator('#signin').getByLabel('Password').press('Enter');
  await a.page.locator('#signin').waitFor({ state: 'hidden' });
  // The API's session and the new one; the replaced one is ended (after the sign-in, not before it).
  await until(async () => (await apiRequest(api.url, 'GET', '/api/sessions', { token: gil.token })).body.length === 2, 'the replaced session ended, not left behind');

  await a.page.getByRole('button', { name: 'Account' }).click();
  await a.page.locator('#settings [data-action="delete-account"]').click();
  await a.page.locator('#confirm-delete-account button[value="delete"]').click();
  await waitSignedOut(a);
  assert.equal((await headerState(a)).note, 'Your account is deleted.');
  await until(async () => !(await b.ids()).includes(posted.id), 'B loses the account\'s tweet');
  assert.equal((await apiRequest(api.url, 'GET', '/api/accounts/gil')).status, 404);
  assertClean(a, { allow: [/status of 403/] });
  assertClean(b);
});

// 6 ----------------------------------------------------------------------------------------
e2e('GUEST_POSTS=false: signed out, "Sign in to post" stands where the name field was; signed in, the composer posts', {}, async (ctx) => {
  const { web } = await localWorld(ctx, { GUEST_POSTS: 'false' });
  const a = await ctx.open(web, 'A');
  await a.page.locator('#sign-in-first').waitFor({ state: 'visible' });
  assert.equal(await a.page.isHidden('#composer'), true, 'no composer for a guest');
  assert.equal(await a.page.isHidden('#name'), true);
  await a.page.locator('#sign-in-first').getByRole('button', { name: 'Sign up' }).click();
  const d = a.page.locator('#signup');
  await d.getByLabel('Handle').fill('carol');
  await d.getByLabel('Display name').fill('Carol');
  await d.getByLabel('Password').fill('carol has a password');
  await d.getByLabel('Password').press('Enter');
  await waitSignedIn(a, 'carol');
  assert.equal(await a.page.isVisible('#composer'), true);
  assert.equal(await a.page.isHidden('#sign-in-first'), true);
  const id = await a.post('accounts only here');
  assert.equal(await a.tweet(id).locator('a.handle').textContent(), '@carol');
  // Signed out again, the name field does not come back.
  await a.page.getByRole('button', { name: 'Sign out' }).click();
  await a.page.locator('#sign-in-first').waitFor({ state: 'visible' });
  assert.equal(await a.page.isHidden('#composer'), true);
  assertClean(a);
});

for (const scheme of ['light', 'dark']) {
  e2e(`axe-core on "Sign in to post" (GUEST_POSTS=false), ${scheme} scheme`, {}, async (ctx) => {
    const failures = [];
    const { web } = await localWorld(ctx, { GUEST_POSTS: 'false' });
    const a = await ctx.open(web, 'A', { contextOptions: a11yContext(scheme) });
    await a.page.locator('#sign-in-first').waitFor({ state: 'visible' });
    await scan(a, 'sign in to post', failures);
    assert.deepEqual(failures, []);
  });
}



// 7 ----------------------------------------------------------------------------------------
/** openAccount opens the account dialog of h and waits for its device list. */
async function openAccount(h) {
  await h.page.getByRole('button', { name: 'Account' }).click();
  await until(async () => (await h.page.locator('#device-list li').count()) > 0, `${h.name}: the device list`);
}

/** devices is what the account dialog's device list shows: [{text, button (its name), describedBy (the text it is described by)}]. */
function devices(h) {
  return h.page.$$eval('#device-list li', (items) => items.map((li) => {
    const b = li.querySelector('button');
    return {
      text: li.querySelector('span').textContent,
      button: b?.textContent ?? null,
      describedBy: b ? document.getElementById(b.getAttribute('aria-describedby'))?.textContent : null,
    };
  }));
}

e2e('a passkey account adds a password and signs in with it elsewhere; the devices are listed and one signed out from the other; a change after an old sign-in asks for a fresh one', { timeout: 120_000 }, async (ctx) => {
  const { api, web } = await localWorld(ctx);
  const a = await ctx.open(web, 'A');
  await virtualAuthenticator(a);
  await a.page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await a.page.locator('#signup').getByLabel('Handle').fill('quinn');
  await a.page.locator('#signup').getByLabel('Display name').fill('Quinn');
  await a.page.locator('#signup').getByRole('button', { name: 'Sign up with a passkey' }).click();
  await waitSignedIn(a, 'quinn');

  // Passkeys only: the dialog offers to add a password, with its rules shown before anything is typed.
  await openAccount(a);
  assert.deepEqual(await devices(a), [{ text: 'This device', button: null, describedBy: null }]);
  const settings = a.page.locator('#settings');
  const add = settings.getByRole('button', { name: 'Add a password' });
  await add.waitFor({ state: 'visible' });
  assert.equal(await a.page.textContent('#password-about'), 'You sign in with passkeys only. A password is another way in.');
  assert.equal(await a.page.getAttribute('#new-password', 'autocomplete'), 'new-password');
  assert.match((await a.page.textContent('#new-password-hint')), /8 to 128 characters.*commonest/);
  await add.click();
  await until(async () => (await fieldState(a, 'new-password')).invalid, 'a blank password is refused at its field');
  assert.equal((await fieldState(a, 'new-password')).message, 'Password is required.');
  await settings.getByLabel('New password').fill('password');
  await add.click();
  await until(async () => /most common/.test((await fieldState(a, 'new-password')).message), 'a common password is refused at its field');
  assert.equal(await a.page.evaluate(() => document.activeElement.id), 'new-password', 'the focus is on the refused field');
  assert.equal(await a.page.textContent('#settings .dialog-error'), '', 'said at the field, not in the alert');
  await settings.getByLabel('New password').fill('quinn has a password now');
  await settings.getByLabel('New password').press('Enter');
  await until(async () => (await a.page.textContent('#settings .settings-status')) === 'Password added.', 'the dialog says the password was added');
  assert.deepEqual(await fieldState(a, 'new-password'), { invalid: false, message: '' });
  assert.equal(await a.page.inputValue('#new-password'), '', 'the field is emptied');
  assert.equal(await settings.getByRole('button', { name: 'Change password' }).count(), 1, 'now it changes the password');
  assert.equal(await a.page.textContent('#password-about'), 'You can sign in with your password.');
  await settings.press('Escape');

  // Another browser signs in with it; A's dialog lists that device, and signs it out from there, by keyboard.
  const b = await ctx.open(web, 'B');
  await signInWithPassword(b, 'quinn', 'quinn has a password now');
  await waitSignedIn(b, 'quinn');
  await openAccount(a);
  await until(async () => (await devices(a)).length === 2, 'A lists B');
  const [mine, other] = await devices(a);
  assert.deepEqual(mine, { text: 'This device', button: null, describedBy: null });
  assert.match(other.text, /^Signed in .+, last used .+$/);
  assert.equal(other.button, 'Sign out');
  assert.equal(other.describedBy, other.text, 'the button is described by its row');
  await a.page.locator('#device-list button').focus();
  await a.page.keyboard.press('Enter');
  await until(async () => (await devices(a)).length === 1, 'B is gone from the list');
  assert.equal(await a.page.textContent('#settings .settings-status'), 'Signed out that device.');
  assert.equal(await a.page.evaluate(() => document.activeElement.dataset.action), 'others', 'no device left: the focus is on "Sign out everywhere else"');
  await b.page.fill('#content', 'am I still here?');
  await b.page.click('#composer button[type=submit]');
  await waitSignedOut(b);
  assert.match((await headerState(b)).note, /signed out/i);

  // "Sign out everywhere else" ends B's next session and the list shows it gone.
  await settings.press('Escape');
  await signInWithPassword(b, 'quinn', 'quinn has a password now');
  await waitSignedIn(b, 'quinn');
  await openAccount(a);
  await until(async () => (await devices(a)).length === 2, 'A lists B again');
  await settings.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await until(async () => (await devices(a)).length === 1, 'the list follows "Sign out everywhere else"');
  assert.equal(await a.page.textContent('#settings .settings-status'), 'Signed out 1 other session.');

  // A change after a sign-in older than 10 minutes: explained, and a fresh sign-in offered beside it.
  await forbidOnce(a, 'PUT', '**/api/me/password', 'change your password');
  await settings.getByLabel('New password').fill('quinn changed it');
  await settings.getByRole('button', { name: 'Change password' }).click();
  await until(async () => /within the last 10 minutes/.test(await a.page.textContent('#settings .dialog-error')), 'the 403 is explained');
  assert.equal(await a.page.evaluate(() => document.activeElement.closest('form')?.dataset.form + ' ' + document.activeElement.dataset.action), 'password signin-again', 'the password part\'s "Sign in again" has the focus');
  assert.equal((await fieldState(a, 'new-password')).invalid, false, 'not the field\'s fault');
  assert.equal(await a.page.textContent('#settings .settings-status'), '', 'the earlier "Signed out 1 other session." is not left beside the refusal');
  await a.page.keyboard.press('Enter');
  await a.page.locator('#signin').waitFor({ state: 'visible' });
  await a.page.locator('#signin').getByLabel('Handle').fill('quinn');
  await a.page.locator('#signin').getByLabel('Password').fill('quinn has a password now');
  await a.page.locator('#signin').getByLabel('Password').press('Enter');
  await a.page.locator('#signin').waitFor({ state: 'hidden' });
  // B, signed out everywhere else above, finds it out at its next act, signs in again with the
  // password A is about to change, and the change signs it out.
  await b.page.fill('#content', 'signed out everywhere else?');
  await b.page.click('#composer button[type=submit]');
  await waitSignedOut(b);
  await signInWithPassword(b, 'quinn', 'quinn has a password now');
  await waitSignedIn(b, 'quinn');
  await openAccount(a);
  await settings.getByLabel('New password').fill('quinn changed it');
  await settings.getByRole('button', { name: 'Change password' }).click();
  await until(async () => (await a.page.textContent('#settings .settings-status')) === 'Password changed. Your other devices are signed out.', 'the fresh sign-in changes it');
  await b.page.fill('#content', 'still here after the change?');
  await b.page.click('#composer button[type=submit]');
  await waitSignedOut(b);
  assert.equal((await apiRequest(api.url, 'POST', '/api/sessions', { body: { handle: 'quinn', password: 'quinn changed it' } })).status, 201, 'the new password signs in');
  assert.equal((await apiRequest(api.url, 'POST', '/api/sessions', { body: { handle: 'quinn', password: 'quinn has a password now' } })).status, 401, 'the old one does not');
  assertClean(a, { allow: [/status of (403|422)/] });
  assertClean(b, { allow: [/status of 401/] });
});
