// Who is signed in on this page: the session token and the account it signs in as, kept in
// localStorage (so every tab of this browser shares them), and the listeners told of each
// change. No DOM here.
const KEY = 'chirp.session';

export class Session {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
    this.listeners = [];
    /** The storage key (another tab's change to it is a sign-in or out there). */
    this.key = KEY;
    this.#load();
  }

  /** reload takes what another tab of this browser kept. */
  reload() {
    const was = this.token;
    this.#load();
    if (this.token !== was) for (const f of this.listeners) f(this, this.signedIn ? 'signed-in' : 'signed-out');
  }

  #load() {
    const kept = read(this.storage);
    this.token = kept?.token ?? null;
    /** The account signed in (the API's Account or Me), or null. */
    this.me = kept?.account ?? null;
  }

  get signedIn() { return this.token !== null; }

  /** onChange calls f(session, why) at every sign-in, sign-out and change of the account. */
  onChange(f) { this.listeners.push(f); }

  /** signedInAs keeps a SignedIn answer ({token, account}). */
  signedInAs({ token, account }) {
    this.token = token;
    this.me = account;
    this.#save('signed-in');
  }

  /** refreshed takes the account as /api/me now describes it. */
  refreshed(account) {
    if (!this.signedIn) return;
    this.me = account;
    this.#save('refreshed');
  }

  /** signOut forgets the session ('signed-out': the person asked; 'ended': the server said it is over). */
  signOut(why = 'signed-out') {
    if (!this.signedIn) return;
    this.token = null;
    this.me = null;
    this.#save(why);
  }

  /** ended: a call made with token was answered 401; a later session is not touched. */
  ended(token) {
    if (token === this.token) this.signOut('ended');
  }

  /** owns says whether the signed-in account posted tweet (handles compare without case). */
  owns(tweet) {
    const handle = tweet?.account?.handle;
    return Boolean(handle && this.me && handle.toLowerCase() === this.me.handle.toLowerCase());
  }

  #save(why) {
    if (this.signedIn) this.storage.setItem(KEY, JSON.stringify({ token: this.token, account: this.me }));
    else this.storage.removeItem(KEY);
    for (const f of this.listeners) f(this, why);
  }
}

function read(storage) {
  try {
    const v = JSON.parse(storage.getItem(KEY) ?? 'null');
    return typeof v?.token === 'string' && typeof v?.account?.handle === 'string' ? v : null;
  } catch {
    return null;
  }
}
