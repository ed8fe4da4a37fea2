// The composition root: creates the API client, the store, the views, the timeline's controller
// and the live connection, connects them, and starts. The views report what the reader asks for
// to the controller, the one that changes the store; nothing is decided here.
import { Api } from './api.js';
import { TweetStore } from './store.js';
import { Tokens } from './tokens.js';
import { TimelineView } from './timeline.js';
import { PagingView } from './paging.js';
import { NewTweetsView } from './new-tweets.js';
import { Composer } from './composer.js';
import { connectionStatus } from './connection.js';
import { TimelineController } from './controller.js';
import { loadLive } from './live.js';

const $ = (sel) => document.querySelector(sel);
const apiUrl = (window.CHIRP_CONFIG?.apiUrl || `${location.protocol}//${location.hostname}:8000`).replace(/\/+$/, '');

const api = new Api(apiUrl);
const store = new TweetStore();
const tokens = new Tokens();

// The views' callbacks run on the reader's acts, after the controller below exists.
const timeline = new TimelineView({
  list: $('#timeline'),
  dialog: $('#confirm-delete'),
  tweet: (id) => store.get(id),
  mine: (id) => Boolean(tokens.get(id)),
  onEdit: (id, content) => controller.edit(id, content),
  onDelete: (id) => controller.delete(id),
});
const paging = new PagingView({
  older: $('#older'),
  end: $('#no-older'),
  empty: $('#empty'),
  failure: $('#load-failed'),
  onOlder: (bySight) => controller.loadOlder(bySight),
  onRetry: () => controller.load(),
});
const newTweets = new NewTweetsView({
  button: $('#new-tweets'),
  announcer: $('#announcer'),
  onShow: () => controller.showNew(),
});
const composer = new Composer({
  form: $('#composer'),
  onPost: (author, content, idempotencyKey) => controller.post(author, content, idempotencyKey),
});

const controller = new TimelineController({
  api, store, tokens, timeline, paging, newTweets, announce: () => live.announce(),
});

controller.load();
const live = loadLive(apiUrl, {
  onStatus: connectionStatus($('#connection')),
  onConnect: (first) => {
    composer.connectionBack();
    controller.connected(first);
  },
  onNewTweet: () => controller.newTweet(),
  onResync: () => controller.resync(),
  onTweetUpdated: (id) => controller.tweetUpdated(id),
  onTweetDeleted: (id) => controller.tweetDeleted(id),
});
