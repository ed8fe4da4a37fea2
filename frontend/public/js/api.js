// The API client: fetch with JSON, and every failure as an ApiError the page can show. Calls
// made as the signed-in account carry its session token (Authorization: Bearer); a 401 to one
// of them means the session is over (signed out elsewhere, expired), which it reports once.

export class ApiError extends Error {
  constructor(status, code, message, fields = {}, retryAfter = null) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter; // seconds to wait, from a 429's Retry-After; null if none
  }
}

/** retryAfter reads Retry-After in its delay-seconds form (the one Chirp sends); else null. */
function retryAfter(headers) {
  const v = headers?.get?.('Retry-After');
  return v && /^\d+$/.test(v.trim()) ? Number(v) : null;
}

export class Api {
  /**
   * @param {string} baseUrl the API's origin
   * @param {Function} fetchImpl
   * @param {object} session {token() (the session token, or null), ended(token) (a call made
   *   with token was answered 401: that session is over)}
   */
  constructor(baseUrl, fetchImpl = globalThis.fetch.bind(globalThis), session = { token: () => null, ended() {} }) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.fetch = fetchImpl;
    this.session = session;
  }

  /**
   * request calls the API. `asAccount`: send the session token (when there is one), and report
   * a 401 as the session's end.
   */
  async request(method, path, { body, headers = {}, asAccount = false } = {}) {
    const token = asAccount ? this.session.token() : null;
    if (token) headers = { ...headers, Authorization: `Bearer ${token}` };
    try {
      return await this.#send(method, path, body, headers);
    } catch (err) {
      if (token && err.status === 401) this.session.ended(token);
      throw err;
    }
  }

  async #send(method, path, body, headers) {
    let res;
    try {
      res = await this.fetch(this.base + path, {
        method,
        headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network', 'Chirp is unreachable. Check your connection and try again.');
    }
    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch { /* not JSON: reported below */ }
    if (res.ok) return data;
    const e = data?.error;
    throw new ApiError(res.status, e?.code ?? 'http_' + res.status,
      e?.message ?? `The server answered ${res.status}.`, e?.fields ?? {}, retryAfter(res.headers));
  }

  /** tweets lists a page of the timeline: {limit, max_id, since_id, min_id}. */
  tweets(params = {}) {
    return this.request('GET', `/api/tweets?${query(params)}`);
  }

  /** accountTweets lists a page of one account's tweets, with the timeline's parameters. */
  accountTweets(handle, params = {}) {
    return this.request('GET', `/api/accounts/${encodeURIComponent(handle)}/tweets?${query(params)}`);
  }

  account(handle) {
    return this.request('GET', `/api/accounts/${encodeURIComponent(handle)}`);
  }

  tweet(id) {
    return this.request('GET', `/api/tweets/${id}`);
  }

  /** create posts as the signed-in account if there is one, else as a guest named author. */
  create(author, content, idempotencyKey) {
    return this.request('POST', '/api/tweets', {
      body: { author, content },
      headers: { 'Idempotency-Key': idempotencyKey },
      asAccount: true,
    });
  }

  /** update edits a guest tweet with its edit token, or (token null) an account's with the session. */
  update(id, content, token) {
    return this.request('PATCH', `/api/tweets/${id}`, { body: { content }, ...bearer(token) });
  }

  /** remove deletes a guest tweet with its edit token, or (token null) an account's with the session. */
  remove(id, token) {
    return this.request('DELETE', `/api/tweets/${id}`, bearer(token));
  }

  /** settings is what the server tells the page before it draws: {guest_posts}. */
  settings() {
    return this.request('GET', '/api/settings');
  }

  signUp(handle, displayName, password) {
    return this.request('POST', '/api/accounts', { body: { handle, display_name: displayName, password } });
  }

  signIn(handle, password) {
    return this.request('POST', '/api/sessions', { body: { handle, password } });
  }

  /** passkeyOptions starts a ceremony: 'signup' ({handle, display_name}), 'signin' or 'add'. */
  passkeyOptions(kind, body = {}) {
    const path = { signup: '/api/passkeys/signup/options', signin: '/api/passkeys/signin/options', add: '/api/me/passkeys/options' }[kind];
    return this.request('POST', path, { body, asAccount: kind === 'add' });
  }

  /** passkeyFinish ends a ceremony with the authenticator's credential (its toJSON()). */
  passkeyFinish(kind, ceremony, credential) {
    const path = { signup: '/api/passkeys/signup', signin: '/api/passkeys/signin', add: '/api/me/passkeys' }[kind];
    return this.request('POST', path, { body: { ceremony, credential }, asAccount: kind === 'add' });
  }

  me() { return this.request('GET', '/api/me', { asAccount: true }); }
  deleteMe() { return this.request('DELETE', '/api/me', { asAccount: true }); }
  signOut() { return this.request('DELETE', '/api/sessions/current', { asAccount: true }); }
  /** endSession ends a session this page no longer uses (replaced by a new sign-in). */
  endSession(token) { return this.request('DELETE', '/api/sessions/current', { headers: { Authorization: `Bearer ${token}` } }); }
  signOutOthers() { return this.request('DELETE', '/api/sessions', { asAccount: true }); }
  /** sessions lists the account's sessions (its signed-in devices), newest first. */
  sessions() { return this.request('GET', '/api/sessions', { asAccount: true }); }
  /** signOutSession ends one session of the account (another device) by its id. */
  signOutSession(id) { return this.request('DELETE', `/api/sessions/${id}`, { asAccount: true }); }
  /** setPassword adds the account's password or changes it (fresh sign-in to change: 403). */
  setPassword(password) { return this.request('PUT', '/api/me/password', { body: { password }, asAccount: true }); }
  passkeys() { return this.request('GET', '/api/me/passkeys', { asAccount: true }); }
  removePasskey(id) { return this.request('DELETE', `/api/me/passkeys/${id}`, { asAccount: true }); }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  return q;
}

/** bearer: an edit token as it is, or the session's when there is none. */
function bearer(token) {
  return token ? { headers: { Authorization: `Bearer ${token}` } } : { asAccount: true };
}
