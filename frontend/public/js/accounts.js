// The account's one owner: signing up and in (with a passkey or a password), out, out
// everywhere else or on one other device, the password added or changed, the passkeys, and
// deleting the account. It asks the API and keeps the answer in the Session, whose listeners
// redraw the page; the dialogs report what the reader asks for and show how it went. No DOM
// here (the passkey ceremonies are passed in).
import { createPasskey, usePasskey } from './passkeys.js';

export class AccountController {
  /** @param {object} deps {api, session (a Session), passkeys ({create(publicKey), use(publicKey)}: the browser's ceremonies)} */
  constructor({ api, session, passkeys = { create: createPasskey, use: usePasskey } }) {
    Object.assign(this, { api, session, passkeys });
  }

  /** signUp creates an account with a password and signs in; rejects with an ApiError. */
  async signUp(handle, displayName, password) {
    this.#signedIn(await this.api.signUp(handle, displayName, password));
  }

  /** signUpWithPasskey creates an account whose way in is a new passkey of this device. */
  async signUpWithPasskey(handle, displayName) {
    const { ceremony, publicKey } = await this.api.passkeyOptions('signup', { handle, display_name: displayName });
    const credential = await this.passkeys.create(publicKey);
    this.#signedIn(await this.api.passkeyFinish('signup', ceremony, credential));
  }

  /** signIn signs in with a handle and password. */
  async signIn(handle, password) {
    this.#signedIn(await this.api.signIn(handle, password));
  }

  /** signInWithPasskey signs in with any of this site's passkeys the device holds: no handle asked. */
  async signInWithPasskey() {
    const { ceremony, publicKey } = await this.api.passkeyOptions('signin');
    const credential = await this.passkeys.use(publicKey);
    this.#signedIn(await this.api.passkeyFinish('signin', ceremony, credential));
  }

  /** refresh reads the account again (a token kept from an earlier visit may be over: then signed out). */
  async refresh() {
    if (!this.session.signedIn) return;
    try {
      await this.account();
    } catch { /* a 401 signed the page out (Api); anything else leaves it as it was */ }
  }

  /** account reads the account as /api/me describes it now (has_password, passkeys), keeps it and resolves to it. */
  async account() {
    const me = await this.api.me();
    this.session.refreshed(me);
    return me;
  }

  /** setPassword adds a password, or changes it (the server asks for a sign-in within 10 minutes then: 403). */
  async setPassword(password) {
    await this.api.setPassword(password);
    this.session.refreshed({ ...this.session.me, has_password: true });
  }

  /** signOut ends this session; the page is signed out whatever the server answers. */
  async signOut() {
    try {
      await this.api.signOut();
    } catch { /* already over, or unreachable: it expires unused */ }
    this.session.signOut();
  }

  /** signOutOthers ends every other session of the account; resolves to how many. */
  async signOutOthers() {
    return (await this.api.signOutOthers())?.ended ?? 0;
  }

  /** deviceList lists the account's sessions (GET /api/sessions: id, created_at, last_used_at, current). */
  deviceList() { return this.api.sessions(); }

  /** endSession signs out another device of the account. */
  endSession(id) { return this.api.signOutSession(id); }

  passkeyList() { return this.api.passkeys(); }

  /** addPasskey registers a new passkey of this device with the account; resolves to it. */
  async addPasskey() {
    const { ceremony, publicKey } = await this.api.passkeyOptions('add');
    return this.api.passkeyFinish('add', ceremony, await this.passkeys.create(publicKey));
  }

  removePasskey(id) { return this.api.removePasskey(id); }

  /** deleteAccount deletes the account (the server asks for a sign-in within 10 minutes: 403). */
  async deleteAccount() {
    await this.api.deleteMe();
    this.session.signOut('deleted');
  }

  /** A sign-in replaces the session this page had, which is then ended rather than left behind. */
  #signedIn(answer) {
    const before = this.session.token;
    this.session.signedInAs(answer);
    if (before && before !== answer.token) this.api.endSession(before).catch(() => {});
  }
}
