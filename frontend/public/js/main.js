// The composition root: builds the API client, the store, the views and the live connection,
// and wires them together.
import { Api } from './api.js';
import { TweetStore } from './store.js';
import { TimelineView } from './timeline.js';
import { Paging } from './paging.js';
import { Composer } from './composer.js';
import { Tokens } from './tokens.js';
import { Coalescer } from './coalesce.js';
import { recheck, isNewer } from './recheck.js';
import { connectLive } from './live.js';
import { newTweetsLabel } from './format.js';

const $ = (sel) => document.querySelector(sel);
const apiUrl = (window.CHIRP_CONFIG?.apiUrl || `${location.protocol}//${location.hostname}:8000`).replace(/\/+$/, '');

const api = new Api(apiUrl);
const store = new TweetStore();
const tokens = new Tokens();
const WALK = 100; // the API's largest page

const dialog = $('#confirm-delete');
const confirmDelete = () => new Promise((resolve) => {
  dialog.returnValue = '';
  dialog.showModal();
  dialog.addEventListener('close', () => resolve(dialog.returnValue === 'delete'), { once: true });
});

const timeline = new TimelineView({
  list: $('#timeline'), store, api, tokens, confirmDelete, onChange: () => paging.showEdges(),
});
const paging = new Paging({
  timeline, store, api, older: $('#older'), end: $('#no-older'), empty: $('#empty'), failure: $('#load-failed'),
});

// The "Show N new tweets" button. Events only say "something happened": the page asks the API
// what is above the newest tweet it has loaded in order, and offers what it has not shown.
const button = $('#new-tweets');
const announcer = $('#announcer');
const baseTitle = document.title;
// A script's smooth scroll ignores the stylesheet's scroll-behavior: it asks itself.
const reducedMotion = matchMedia('(prefers-reduced-motion: reduce)');
let live = null;

function showPending(count, more) {
  if (count === 0) {
    // What the region said is stale once the tweets are shown (and a region emptied says nothing).
    if (!button.hidden) announcer.textContent = '';
    button.hidden = true;
    document.title = baseTitle;
    return;
  }
  const label = newTweetsLabel(count, more);
  // The button's arrival is announced, once ("2 new tweets available"). A new count on a button
  // already there is not: on a busy timeline the region would speak at every tweet, over
  // whatever the reader is reading; the button and the title keep the count.
  if (button.hidden) announcer.textContent = label.replace(/^Show /, '') + ' available';
  button.textContent = label;
  button.hidden = false;
  document.title = `(${more ? '100+' : count}) ${baseTitle}`;
}

const checker = new Coalescer(async () => {
  if (!paging.loaded) return;
  const page = await api.tweets({ since_id: store.newestInOrder, limit: WALK });
  // The server announces a create to the poster too, and the event (and this read) can beat the
  // POST's own answer: count what is unseen once that answer has put the tweet in the store.
  await composer.posting;
  showPending(store.unseen(page).length, page.length === WALK);
}, 1000);

// Edits and deletes come as events about one tweet; when some may have been missed (the server
// says so with resync, or the socket was away), the tweets on screen are read again, in one
// walk of at most a request per hundred of them, at most once a second however many ask.
const rechecker = new Coalescer(async () => {
  if (!paging.loaded) return;
  const { updated, removed } = await recheck(store, api);
  // Events handled while the walk was on its way may have applied a later edit, or the delete.
  for (const t of updated) {
    if (isNewer(t, store.get(t.id)) && store.update(t)) timeline.replace(t.id);
  }
  for (const id of removed) if (store.has(id)) timeline.remove(id);
}, 1000);

async function showNew() {
  button.disabled = true;
  try {
    // Walk forward from the edge with min_id (the oldest first), so nothing is skipped when
    // more than a page waits.
    const added = [];
    for (let i = 0; i < 1000; i++) {
      const page = await api.tweets({ min_id: store.newestInOrder, limit: WALK });
      added.push(...store.addNewer(page));
      if (page.length < WALK) break;
    }
    timeline.insert(added);
    showPending(0, false);
    window.scrollTo({ top: 0, behavior: reducedMotion.matches ? 'auto' : 'smooth' });
    // Keyboard and screen-reader users continue from the newest tweet, where the button was.
    const first = timeline.list.querySelector('li.tweet');
    if (first) {
      first.tabIndex = -1;
      first.focus({ preventScroll: true });
    }
  } catch (err) {
    announcer.textContent = `Couldn't load new tweets: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}
button.addEventListener('click', showNew);

const composer = new Composer({
  form: $('#composer'),
  api,
  onPosted(tweet) {
    tokens.set(tweet.id, tweet.edit_token);
    const { edit_token: _, ...shown } = tweet;
    timeline.insert(store.addOwn(shown));
    live?.announce();
  },
});

// The live connection, once the socket.io client has loaded from the API (it is retried while
// the API is away).
const status = $('#connection');
function setStatus(s) {
  status.hidden = s === 'online';
  status.textContent = s === 'online' ? '' : 'Reconnecting…';
}

function loadClient(delay = 0) {
  setTimeout(() => {
    const script = document.createElement('script');
    script.src = `${apiUrl}/socket.io/socket.io.js`;
    script.onload = () => {
      live = connectLive(window.io, apiUrl, {
        onStatus: setStatus,
        // A connect is the connection back: what failed for want of it is stale, or retried.
        onConnect: (first) => {
          composer.connectionBack();
          timeline.connectionBack();
          paging.connectionBack().then(() => {
            checker.request();
            // Back after a gap: what was edited or deleted meanwhile was never announced here.
            if (!first) rechecker.request();
          });
        },
        onNewTweet: () => checker.request(),
        onResync: () => {
          rechecker.request();
          checker.request();
        },
        onTweetUpdated: async (id) => {
          if (!store.has(id)) return;
          try {
            const t = await api.request('GET', `/api/tweets/${id}`);
            store.update(t);
            timeline.replace(id);
          } catch (err) {
            if (err.status === 404) timeline.remove(id);
          }
        },
        onTweetDeleted: (id) => { if (store.has(id)) timeline.remove(id); },
      });
    };
    script.onerror = () => {
      script.remove();
      setStatus('reconnecting');
      loadClient(Math.min(delay * 2 || 1000, 10_000));
    };
    document.head.append(script);
  }, delay);
}

$('#load-failed button').addEventListener('click', () => paging.loadFirst().then(() => checker.request()));
paging.loadFirst().then(() => checker.request());
loadClient();
