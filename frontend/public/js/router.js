// Shows the view the URL's fragment names (route.js): the timeline, or an account's profile with
// its tweets. Each list gets its own store and TimelineController over the same views (the one
// before is stopped, so what it still awaits shows nowhere); the router keeps which is current.
import { parseRoute } from './route.js';
import { TweetStore } from './store.js';

export class Router {
  /**
   * @param {object} deps {api, view (a ProfileView), clear() (empties the list's views),
   *   retitle(title) (the page's title, under the new-tweets count), controllerFor(list, store)
   *   (a TimelineController for that list's endpoint)}
   */
  constructor({ api, view, clear, retitle, controllerFor }) {
    Object.assign(this, { api, view, clear, retitle, controllerFor });
    this.controller = null;
    this.store = new TweetStore();
    this.shown = null; // the route shown: {view, handle}
    this.turn = 0; // counts route changes, so an answer for a route left behind is dropped
  }

  /** go shows the view of the fragment hash (not one of the page's views: nothing changes). `focus`: as a new page would have it. */
  async go(hash, focus = false) {
    // A place in a view (`#feed`) opened as the page loads is in the timeline.
    const route = parseRoute(hash) ?? (this.shown ? null : { view: 'timeline' });
    if (!route || (this.shown && sameRoute(route, this.shown))) return;
    this.shown = route;
    const turn = ++this.turn;
    this.controller?.stop();
    this.controller = null;
    this.store = new TweetStore();
    this.clear();
    if (route.view === 'timeline') {
      this.retitle(this.view.timeline());
      this.#start((params) => this.api.tweets(params));
      if (focus) document.querySelector('h1')?.focus();
      return;
    }
    this.view.loading(route.handle);
    let account;
    try {
      account = await this.api.account(route.handle);
    } catch (err) {
      if (turn === this.turn) this.retitle(this.view.noSuchAccount(route.handle, err));
      if (turn === this.turn && focus) this.view.focus();
      return;
    }
    if (turn !== this.turn) return;
    this.retitle(this.view.account(account));
    this.#start((params) => this.api.accountTweets(account.handle, params));
    if (focus) this.view.focus();
  }

  #start(list) {
    this.controller = this.controllerFor(list, this.store);
    this.controller.load();
  }
}

function sameRoute(a, b) {
  return a.view === b.view && (a.handle ?? '').toLowerCase() === (b.handle ?? '').toLowerCase();
}

/**
 * placesStayOutOfHistory makes the page's links to places (the skip link's `#feed`) move the
 * focus there without changing the fragment: in the history such a fragment would be no view,
 * and Back from a profile to it would leave the profile shown.
 */
export function placesStayOutOfHistory(doc = document) {
  doc.addEventListener('click', (e) => {
    const link = e.target.closest?.('a[href^="#"]');
    if (!link || parseRoute(link.getAttribute('href'))) return;
    const target = doc.getElementById(link.getAttribute('href').slice(1));
    if (!target) return;
    e.preventDefault();
    if (!target.hasAttribute('tabindex')) target.tabIndex = -1;
    target.focus();
  });
}
