// What the page shows at the timeline's edges (no tweets yet, a first page that could not load,
// "Show older", "No older tweets") and the asks for an older page: when the end of the list
// comes into view, as readers of other timelines expect, or with "Show older", the keyboard's
// way and where the state is shown. It loads nothing: the controller does, and tells it how
// that went.

export class PagingView {
  /**
   * @param {object} deps {older (the "Show older" button), end (the "No older tweets" note),
   *   empty (the notice of an empty timeline), failure (the notice of a first page that could
   *   not load, with its "Try again" button), onOlder(bySight) (the reader asks for older
   *   tweets: by sight when the end of the list came into view), onRetry() ("Try again")}
   */
  constructor({ older, end, empty, failure, onOlder, onRetry }) {
    Object.assign(this, { older, end, empty, failure, onOlder });
    this.older.addEventListener('click', () => onOlder(false));
    this.failure.querySelector('button').addEventListener('click', () => onRetry());
    // The button is the end of the list while there is more; half a screen ahead of it is soon
    // enough that scrolling rarely waits.
    this.sight = new IntersectionObserver((entries) => this.#onSight(entries.at(-1)), { rootMargin: '0px 0px 50% 0px' });
    this.sight.observe(this.older);
  }

  /** reset takes every notice away and "Show older" back to its rest (another list is shown). */
  reset() {
    this.failure.hidden = true;
    this.olderDone(null);
    this.showEdges({ loaded: false, count: 0, reachedEnd: false });
  }

  /** firstLoading takes away the first page's failure while it loads again. */
  firstLoading() { this.failure.hidden = true; }

  firstFailed(err) {
    this.failure.querySelector('p').textContent = `Couldn't load tweets: ${err.message}`;
    this.failure.hidden = false;
  }

  olderLoading() {
    // aria-disabled, not disabled: a disabled button drops the focus of a keyboard user on it.
    this.older.setAttribute('aria-disabled', 'true');
    this.older.textContent = 'Loading…';
  }

  /** olderDone shows how the older page's load ended (err: why it failed, or null). */
  olderDone(err) {
    this.older.textContent = err ? `Couldn't load older tweets (${err.message}). Try again` : 'Show older';
    this.older.removeAttribute('aria-disabled');
  }

  /** olderReady takes away an older page's failure, now stale, and lets the page load by sight. */
  olderReady() {
    this.older.textContent = 'Show older';
    this.lookAgain();
  }

  /** showEdges shows the notices around the timeline for what is loaded now. */
  showEdges({ loaded, count, reachedEnd }) {
    const hadFocus = document.activeElement === this.older;
    this.empty.hidden = !loaded || count > 0;
    this.older.hidden = !loaded || count === 0 || reachedEnd;
    this.end.hidden = !loaded || count === 0 || !reachedEnd;
    // The button goes at the end: the focus it had goes to the note that says why.
    if (hadFocus && this.older.hidden && !this.end.hidden) this.end.focus();
  }

  /**
   * lookAgain: the observer speaks only when the button crosses the edge of sight, so a page
   * that left the button in sight would be the last. Observing anew reports where it is now.
   */
  lookAgain() {
    this.sight.unobserve(this.older);
    this.sight.observe(this.older);
  }

  #onSight(entry) {
    // A keyboard user on the button pages with it: loading by sight would push it away from
    // under them. After a failure, the button (or the connection coming back) retries.
    if (entry.isIntersecting && !this.older.matches(':focus-visible')) this.onOlder(true);
  }
}
