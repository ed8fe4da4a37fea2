// The API client: fetch with JSON, and every failure as an ApiError the page can show.

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
  constructor(baseUrl, fetchImpl = globalThis.fetch.bind(globalThis)) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.fetch = fetchImpl;
  }

  async request(method, path, { body, headers = {} } = {}) {
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

  /** tweets lists a page: {limit, max_id, since_id, min_id}. */
  tweets(params = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
    return this.request('GET', `/api/tweets?${q}`);
  }

  tweet(id) {
    return this.request('GET', `/api/tweets/${id}`);
  }

  create(author, content, idempotencyKey) {
    return this.request('POST', '/api/tweets', {
      body: { author, content },
      headers: { 'Idempotency-Key': idempotencyKey },
    });
  }

  update(id, content, token) {
    return this.request('PATCH', `/api/tweets/${id}`, {
      body: { content },
      headers: { Authorization: `Bearer ${token}` },
    });
  }

  remove(id, token) {
    return this.request('DELETE', `/api/tweets/${id}`, { headers: { Authorization: `Bearer ${token}` } });
  }
}
