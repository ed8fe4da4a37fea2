// The tweets on screen, and what the page knows about the timeline's edges. No DOM here.
//
// Two edges are kept apart on purpose. `newestInOrder` is the newest id up to which the page
// has loaded every tweet (the first page, then each "Show N new tweets" walk): asking the API
// for what is above it can never skip a tweet. The reader's own posts are shown at once, above
// that edge, without moving it; so a post of one's own never hides tweets that came before it,
// and the next walk brings those in around it.

export class TweetStore {
  constructor() {
    /** @type {Map<number, object>} */
    this.byId = new Map();
    this.newestInOrder = 0;
    this.oldest = null; // the oldest id loaded by paging down, for max_id
    this.reachedEnd = false;
  }

  has(id) { return this.byId.has(id); }
  get(id) { return this.byId.get(id); }
  get size() { return this.byId.size; }

  /** ids newest first. */
  ids() { return [...this.byId.keys()].sort((a, b) => b - a); }

  /** addFirst takes the newest page: everything up to its newest tweet is now loaded. */
  addFirst(page, limit) {
    const added = this.addOlder(page, limit);
    for (const t of page) this.newestInOrder = Math.max(this.newestInOrder, t.id);
    return added;
  }

  /** addOlder takes a page from paging down; returns the tweets that were not shown yet. */
  addOlder(page, limit) {
    const added = this.#add(page);
    for (const t of page) {
      if (this.oldest === null || t.id < this.oldest) this.oldest = t.id;
    }
    if (page.length < limit) this.reachedEnd = true;
    return added;
  }

  /** addNewer takes a page walked forward from newestInOrder (with min_id); moves the edge. */
  addNewer(page) {
    const added = this.#add(page);
    for (const t of page) this.newestInOrder = Math.max(this.newestInOrder, t.id);
    return added;
  }

  /** addOwn shows the reader's own new tweet at once, without moving newestInOrder. */
  addOwn(tweet) { return this.#add([tweet]); }

  /** unseen is what, of a page of newer tweets, is not on screen yet. */
  unseen(page) { return page.filter((t) => !this.byId.has(t.id)); }

  /** update replaces a tweet's fields; false when it is not on screen. */
  update(tweet) {
    if (!this.byId.has(tweet.id)) return false;
    this.byId.set(tweet.id, { ...this.byId.get(tweet.id), ...tweet });
    return true;
  }

  remove(id) { return this.byId.delete(id); }

  #add(page) {
    const added = [];
    for (const t of page) {
      if (this.byId.has(t.id)) continue;
      this.byId.set(t.id, t);
      added.push(t);
    }
    return added;
  }
}
