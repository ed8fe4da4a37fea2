// Edit tokens of the tweets posted from this browser, kept in localStorage: whoever holds a
// tweet's token may edit or delete it.
const KEY = 'chirp.editTokens';

export class Tokens {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
  }

  #all() {
    try { return JSON.parse(this.storage.getItem(KEY) ?? '{}') ?? {}; } catch { return {}; }
  }

  get(id) { return this.#all()[id] ?? null; }

  set(id, token) {
    const all = this.#all();
    all[id] = token;
    this.storage.setItem(KEY, JSON.stringify(all));
  }

  delete(id) {
    const all = this.#all();
    delete all[id];
    this.storage.setItem(KEY, JSON.stringify(all));
  }
}
