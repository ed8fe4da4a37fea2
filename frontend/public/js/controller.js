// The timeline's one owner: the only module that changes the store of tweets on screen and asks
// the API about the timeline. The views render what it tells them and report what the reader
// asks for; the live connection reports events. No DOM here. The same controller serves every
// list of tweets (the timeline, an account's profile): it is given the list's endpoint.
//
// New tweets: events only say "something happened"; the controller asks the API what is above
// the newest tweet it has loaded in order and offers what it has not shown. Edits and deletes
// come as events about one tweet; when some may have been missed (the server says so with
// resync, or the socket was away), the tweets on screen are read again, in one walk of at most
// a request per hundred of them, at most once a second however many ask.
import { Coalescer } from './coalesce.js';
import { recheck, isNewer } from './recheck.js';

/** The API's largest page. */
const WALK = 100;

export class TimelineController {
  /**
   * @param {object} deps {api, list(params) (a page of the list shown, with the timeline's
   *   parameters; the timeline's own by default), store (a TweetStore, changed here only),
   *   tokens (the edit tokens), timeline (a TimelineView), paging (a PagingView), newTweets (a
   *   NewTweetsView), announce (tells the other tabs that this one posted), pageSize}
   */
  constructor({ api, list = (params) => api.tweets(params), store, tokens, timeline, paging, newTweets, announce = () => {}, pageSize = 20 }) {
    Object.assign(this, { api, list, store, tokens, announce, pageSize });
    this.stopped = false;
    // A controller left behind (the reader went to another list) may still be waiting for
    // answers: they change its own store, never the screen.
    const live = () => !this.stopped;
    this.timeline = scoped(timeline, live);
    this.paging = scoped(paging, live);
    this.newTweets = scoped(newTweets, live);
    this.loaded = false; // the first page is on screen
    this.first = null; // the first page's load, while it is on its way
    this.firstFailed = null; // why the first page failed
    this.loadingOlder = false; // an older page is on its way
    this.olderFailed = null; // why the last older page failed: nothing loads by sight until a click
    /** posting settles when the POST in flight, if any, has been answered and handled. */
    this.posting = Promise.resolve();
    this.checker = new Coalescer(() => this.#checkNew(), 1000);
    this.rechecker = new Coalescer(() => this.#recheckShown(), 1000);
  }

  /** stop leaves the screen to another controller: what is still on its way shows nowhere. */
  stop() {
    this.stopped = true;
  }

  /** load loads the first page (at the start, and when the reader tries again), then checks what is new. */
  load() {
    return this.#loadFirst().then(() => this.checker.request());
  }

  /**
   * loadOlder loads the page below the oldest tweet on screen, unless one is on its way.
   * `bySight`: the end of the list came into view, which after a failure retries nothing.
   */
  async loadOlder(bySight = false) {
    if (bySight && this.olderFailed) return;
    if (!this.loaded || this.loadingOlder || this.store.reachedEnd || this.store.oldest === null) return;
    this.loadingOlder = true;
    this.olderFailed = null;
    this.paging.olderLoading();
    try {
      const page = await this.list({ limit: this.pageSize, max_id: this.store.oldest });
      this.#show(this.store.addOlder(page, this.pageSize));
    } catch (err) {
      this.olderFailed = err;
    } finally {
      this.loadingOlder = false;
      this.paging.olderDone(this.olderFailed);
      this.#showEdges();
      if (!this.olderFailed) this.paging.lookAgain();
    }
  }

  /** showNew shows the tweets the button offers. */
  async showNew() {
    this.newTweets.busy(true);
    try {
      // Walk forward from the edge with min_id (the oldest first), so nothing is skipped when
      // more than a page waits.
      const added = [];
      for (let i = 0; i < 1000; i++) {
        const page = await this.list({ min_id: this.store.newestInOrder, limit: WALK });
        added.push(...this.store.addNewer(page));
        if (page.length < WALK) break;
      }
      this.#show(added);
      this.newTweets.show(0, false);
      this.newTweets.scrollToTop();
      this.timeline.focusNewest();
    } catch (err) {
      this.newTweets.failed(err);
    } finally {
      this.newTweets.busy(false);
    }
  }

  /** post posts a tweet and shows it at once; resolves to the tweet, or rejects with an ApiError. */
  post(author, content, idempotencyKey) {
    const posted = this.#post(author, content, idempotencyKey);
    this.posting = posted.then(() => {}, () => {});
    return posted;
  }

  async #post(author, content, idempotencyKey) {
    const tweet = await this.api.create(author, content, idempotencyKey);
    // An account's tweet has no edit token: the session is its key, on every device.
    if (tweet.edit_token) this.tokens.set(tweet.id, tweet.edit_token);
    const { edit_token: _, ...shown } = tweet;
    this.#show(this.store.addOwn(shown));
    this.announce();
    return tweet;
  }

  /** edit saves one's own tweet's new text; rejects with an ApiError. */
  async edit(id, content) {
    this.store.update(await this.api.update(id, content, this.#editToken(id)));
  }

  /** delete deletes one's own tweet; rejects with an ApiError. */
  async delete(id) {
    try {
      await this.api.remove(id, this.#editToken(id));
    } catch (err) {
      // Gone already: as deleted as the reader wanted.
      if (err.status !== 404) throw err;
    }
    this.tokens.delete(id);
    this.#remove(id);
  }

  /** #editToken is a guest tweet's edit token; null for an account's, which the session opens. */
  #editToken(id) {
    return this.store.get(id)?.account ? null : this.tokens.get(id);
  }

  /** newTweet: the server says a tweet was posted. */
  newTweet() { this.checker.request(); }

  /** resync: the server may have missed events, so this page may have too. */
  resync() {
    this.rechecker.request();
    this.checker.request();
  }

  /** tweetUpdated: a tweet was edited; the event says which, the API says how. */
  async tweetUpdated(id) {
    if (!this.store.has(id)) return;
    try {
      this.store.update(await this.api.tweet(id));
      this.timeline.replace(id);
    } catch (err) {
      if (err.status === 404) this.#remove(id);
    }
  }

  /** tweetDeleted: a tweet was deleted. */
  tweetDeleted(id) {
    if (this.store.has(id)) this.#remove(id);
  }

  /**
   * connected: the socket connected (`first`: for the first time). What failed for want of a
   * connection is stale, or retried; events sent while there was none never arrive.
   */
  connected(first) {
    this.timeline.connectionBack();
    this.#pagingBack().then(() => {
      this.checker.request();
      // Back after a gap: what was edited or deleted meanwhile was never announced here.
      if (!first) this.rechecker.request();
    });
  }

  /** #loadFirst loads the newest page (once at a time); resolves to whether it is on screen. */
  #loadFirst() {
    this.first ??= this.#fetchFirst().finally(() => { this.first = null; });
    return this.first;
  }

  async #fetchFirst() {
    this.paging.firstLoading();
    this.timeline.busy(true);
    try {
      const page = await this.list({ limit: this.pageSize });
      this.#show(this.store.addFirst(page, this.pageSize));
      this.loaded = true;
      this.firstFailed = null;
    } catch (err) {
      this.firstFailed = err;
      this.paging.firstFailed(err);
      this.loaded = false;
    } finally {
      this.timeline.busy(false);
      this.#showEdges();
      this.paging.lookAgain();
    }
    return this.loaded;
  }

  /** #pagingBack retries the first page, or else lets the older page load by sight again. */
  async #pagingBack() {
    if (this.loaded) {
      if (this.olderFailed?.status !== 0) return;
      this.olderFailed = null;
      this.paging.olderReady();
    } else if (this.firstFailed?.status === 0) {
      await this.#loadFirst();
    }
  }

  async #checkNew() {
    if (!this.loaded) return;
    const page = await this.list({ since_id: this.store.newestInOrder, limit: WALK });
    // The server announces a create to the poster too, and the event (and this read) can beat the
    // POST's own answer: count what is unseen once that answer has put the tweet in the store.
    await this.posting;
    this.newTweets.show(this.store.unseen(page).length, page.length === WALK);
  }

  async #recheckShown() {
    if (!this.loaded) return;
    const { updated, removed } = await recheck(this.store, { tweets: (params) => this.list(params) });
    // Events handled while the walk was on its way may have applied a later edit, or the delete.
    for (const t of updated) {
      if (isNewer(t, this.store.get(t.id)) && this.store.update(t)) this.timeline.replace(t.id);
    }
    for (const id of removed) if (this.store.has(id)) this.#remove(id);
  }

  #show(tweets) {
    this.timeline.insert(tweets);
    this.#showEdges();
  }

  #remove(id) {
    this.store.remove(id);
    this.timeline.remove(id);
    this.#showEdges();
  }

  #showEdges() {
    this.paging.showEdges({ loaded: this.loaded, count: this.store.size, reachedEnd: this.store.reachedEnd });
  }
}

/** scoped is view with its methods doing nothing once live() is false. */
function scoped(view, live) {
  return new Proxy(view, {
    get(target, key) {
      const v = target[key];
      return typeof v === 'function' ? (...args) => (live() ? v.apply(target, args) : undefined) : v;
    },
  });
}
