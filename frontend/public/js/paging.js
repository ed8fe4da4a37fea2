// The timeline's pages: the first one, the older ones below it, and what the page shows at the
// timeline's edges (no tweets yet, a first page that could not load, "Show older", "No older
// tweets"). An older page loads when the end of the list comes into view, as readers of other
// timelines expect, or with "Show older": the keyboard's way, and where the state is shown.

export class Paging {
  /**
   * @param {object} deps {timeline (a TimelineView), store, api, older (the "Show older"
   *   button), end (the "No older tweets" note), empty (the notice of an empty timeline),
   *   failure (the notice of a first page that could not load)}
   */
  constructor({ timeline, store, api, older, end, empty, failure, pageSize = 20 }) {
    Object.assign(this, { timeline, store, api, older, end, empty, failure, pageSize });
    this.loaded = false; // the first page is on screen
    this.first = null; // the first page's load, while it is on its way
    this.loading = false; // an older page is on its way
    this.failed = null; // why the last older page failed: nothing loads by sight until a click
    this.firstFailed = null; // why the first page failed
    this.older.addEventListener('click', () => this.loadOlder());
    // The button is the end of the list while there is more; half a screen ahead of it is soon
    // enough that scrolling rarely waits.
    this.sight = new IntersectionObserver((entries) => this.#onSight(entries.at(-1)), { rootMargin: '0px 0px 50% 0px' });
    this.sight.observe(this.older);
  }

  /** loadFirst loads the newest page (once at a time); resolves to whether it is on screen. */
  loadFirst() {
    this.first ??= this.#loadFirst().finally(() => { this.first = null; });
    return this.first;
  }

  async #loadFirst() {
    this.failure.hidden = true;
    this.timeline.list.setAttribute('aria-busy', 'true');
    try {
      const page = await this.api.tweets({ limit: this.pageSize });
      this.timeline.insert(this.store.addFirst(page, this.pageSize));
      this.loaded = true;
      this.firstFailed = null;
    } catch (err) {
      this.firstFailed = err;
      this.failure.querySelector('p').textContent = `Couldn't load tweets: ${err.message}`;
      this.failure.hidden = false;
      this.loaded = false;
    } finally {
      this.timeline.list.removeAttribute('aria-busy');
      this.showEdges();
      this.#lookAgain();
    }
    return this.loaded;
  }

  /** loadOlder loads the page below the oldest tweet on screen, unless one is on its way. */
  async loadOlder() {
    if (!this.loaded || this.loading || this.store.reachedEnd || this.store.oldest === null) return;
    this.loading = true;
    this.failed = null;
    // aria-disabled, not disabled: a disabled button drops the focus of a keyboard user on it.
    this.older.setAttribute('aria-disabled', 'true');
    this.older.textContent = 'Loading…';
    try {
      const page = await this.api.tweets({ limit: this.pageSize, max_id: this.store.oldest });
      this.timeline.insert(this.store.addOlder(page, this.pageSize));
      this.older.textContent = 'Show older';
    } catch (err) {
      this.failed = err;
      this.older.textContent = `Couldn't load older tweets (${err.message}). Try again`;
    } finally {
      this.loading = false;
      this.older.removeAttribute('aria-disabled');
      this.showEdges();
      if (!this.failed) this.#lookAgain();
    }
  }

  /**
   * connectionBack retries what failed for want of a connection: the first page, or else the
   * older page (by sight, if the end is in view). Resolves when that is done.
   */
  async connectionBack() {
    if (this.loaded) {
      if (this.failed?.status !== 0) return;
      this.failed = null;
      this.older.textContent = 'Show older';
      this.#lookAgain();
    } else if (this.firstFailed?.status === 0) {
      await this.loadFirst();
    }
  }

  /** showEdges shows the notices around the timeline for what is loaded now. */
  showEdges() {
    const ready = this.loaded;
    const hadFocus = document.activeElement === this.older;
    this.empty.hidden = !ready || this.store.size > 0;
    this.older.hidden = !ready || this.store.size === 0 || this.store.reachedEnd;
    this.end.hidden = !ready || this.store.size === 0 || !this.store.reachedEnd;
    // The button goes at the end: the focus it had goes to the note that says why.
    if (hadFocus && this.older.hidden && !this.end.hidden) this.end.focus();
  }

  #onSight(entry) {
    // A keyboard user on the button pages with it: loading by sight would push it away from
    // under them. After a failure, the button (or the connection coming back) retries.
    if (entry.isIntersecting && !this.failed && !this.older.matches(':focus-visible')) this.loadOlder();
  }

  // The observer speaks only when the button crosses the edge of sight; a page that left the
  // button in sight would be the last. Observing anew reports where it is now.
  #lookAgain() {
    this.sight.unobserve(this.older);
    this.sight.observe(this.older);
  }
}
