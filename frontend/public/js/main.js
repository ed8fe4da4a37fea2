// The composition root: creates the API client, the session, the views, the router (which gives
// each list shown, the timeline or a profile, its own store and TimelineController), the
// account's controller and dialogs, and the live connection, connects them, and starts. The
// views report what the reader asks for to the controllers, the ones that change state; nothing
// is decided here.
import { Api } from './api.js';
import { Tokens } from './tokens.js';
import { Session } from './session.js';
import { TimelineView } from './timeline.js';
import { PagingView } from './paging.js';
import { NewTweetsView } from './new-tweets.js';
import { Composer } from './composer.js';
import { connectionStatus } from './connection.js';
import { TimelineController } from './controller.js';
import { AccountController } from './accounts.js';
import { AccountBar } from './account-bar.js';
import { SignInDialog, SignUpDialog } from './sign-in.js';
import { SettingsDialog } from './settings.js';
import { ProfileView } from './profile.js';
import { Router, placesStayOutOfHistory } from './router.js';
import { passkeysWork } from './passkeys.js';
import { loadLive } from './live.js';

const $ = (sel) => document.querySelector(sel);
const apiUrl = (window.CHIRP_CONFIG?.apiUrl || `${location.protocol}//${location.hostname}:8000`).replace(/\/+$/, '');

const session = new Session();
const api = new Api(apiUrl, undefined, { token: () => session.token, ended: (token) => session.ended(token) });
const tokens = new Tokens();
const accounts = new AccountController({ api, session });
let guestPosts = true; // until the server says otherwise (GET /api/settings)

// The views' callbacks run on the reader's acts, after the router below exists.
const current = () => router.controller;
const timeline = new TimelineView({
  list: $('#timeline'),
  dialog: $('#confirm-delete'),
  tweet: (id) => router.store.get(id),
  mine: (id) => {
    const t = router.store.get(id);
    return t?.account ? session.owns(t) : Boolean(tokens.get(id));
  },
  onEdit: (id, content) => current().edit(id, content),
  onDelete: (id) => current().delete(id),
});
const paging = new PagingView({
  older: $('#older'),
  end: $('#no-older'),
  empty: $('#empty'),
  failure: $('#load-failed'),
  onOlder: (bySight) => current()?.loadOlder(bySight),
  onRetry: () => current()?.load(),
});
const newTweets = new NewTweetsView({
  button: $('#new-tweets'),
  announcer: $('#announcer'),
  onShow: () => current()?.showNew(),
});
const composer = new Composer({
  form: $('#composer'),
  signInFirst: $('#sign-in-first'),
  onPost: (author, content, idempotencyKey) => current().post(author, content, idempotencyKey),
});

const router = new Router({
  api,
  view: new ProfileView({
    profile: $('#profile'),
    missing: $('#no-account'),
    composerParts: [$('#composer'), $('#sign-in-first')],
    feedTitle: $('#feed-title'),
    empty: $('#empty'),
  }),
  clear: () => {
    timeline.clear();
    paging.reset();
    newTweets.show(0, false);
  },
  retitle: (title) => newTweets.retitle(title),
  controllerFor: (list, store) => new TimelineController({
    api, list, store, tokens, timeline, paging, newTweets, announce: () => live.announce(),
  }),
});

const passkeys = passkeysWork();
const signIn = new SignInDialog({
  dialog: $('#signin'),
  passkeys,
  afterward: () => bar.focus(),
  onPasskey: () => accounts.signInWithPasskey(),
  onPassword: (handle, password) => accounts.signIn(handle, password),
});
const signUp = new SignUpDialog({
  dialog: $('#signup'),
  passkeys,
  afterward: () => bar.focus(),
  onPasskey: (handle, name) => accounts.signUpWithPasskey(handle, name),
  onPassword: (handle, name, password) => accounts.signUp(handle, name, password),
});
const settings = new SettingsDialog({
  dialog: $('#settings'),
  confirm: $('#confirm-delete-account'),
  accounts,
  me: () => session.me,
  onSignInAgain: () => signIn.open(),
  afterward: () => bar.focus(),
});
const bar = new AccountBar({
  root: $('#account-bar'),
  note: $('#account-note'),
  onOpen: (name) => ({ signin: signIn, signup: signUp, settings })[name]?.open(),
  onSignOut: () => accounts.signOut(),
});

const showAccount = (why) => {
  if (!session.signedIn && $('#settings').open) $('#settings').close();
  bar.show(session.me, why);
  composer.showAccount(session.me, guestPosts);
  timeline.rerender();
};
session.onChange((_, why) => showAccount(why));
// Another tab of this browser signed in or out: this one follows.
addEventListener('storage', (e) => { if (e.key === null || e.key === session.key) session.reload(); });
showAccount();
accounts.refresh();
api.settings().then((answer) => {
  guestPosts = answer?.guest_posts !== false;
  showAccount();
}, () => { /* an older server, or none yet: it takes guest posts */ });

router.go(location.hash);
addEventListener('hashchange', () => router.go(location.hash, true));
placesStayOutOfHistory();
const live = loadLive(apiUrl, {
  onStatus: connectionStatus($('#connection')),
  onConnect: (first) => {
    composer.connectionBack();
    current()?.connected(first);
  },
  onNewTweet: () => current()?.newTweet(),
  onResync: () => current()?.resync(),
  onTweetUpdated: (id) => current()?.tweetUpdated(id),
  onTweetDeleted: (id) => current()?.tweetDeleted(id),
});
