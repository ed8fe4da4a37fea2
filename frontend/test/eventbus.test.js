// Two real chirp processes on one PostgreSQL database, as behind a load balancer: every client
// hears every committed write and every relayed newTweet, whichever process it is connected to,
// exactly once; and a process whose bus connection is cut heals by itself. (SQLite serves one
// process: these run on PostgreSQL only, which CI always has.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, postTweet } from './support/server.js';
import { createPostgresDatabase, deafen, postgresSkip, queryPostgres } from './support/postgres.js';
import { connect, recorder } from './support/sockets.js';
import { sleep, until } from './support/wait.js';
import { Api } from '../public/js/api.js';
import { TweetStore } from '../public/js/store.js';
import { recheck, isNewer } from '../public/js/recheck.js';

/**
 * twoProcesses starts two servers on one fresh database and returns them with a helper that
 * connects a recorded socket to either; everything is closed after the test, last first.
 */
async function twoProcesses(t) {
  const cleanups = [];
  t.after(async () => {
    const errors = [];
    while (cleanups.length) await cleanups.pop()().catch((err) => errors.push(err));
    if (errors.length) throw errors[0];
  });
  const db = await createPostgresDatabase('bus');
  cleanups.push(db.drop);
  const env = { DATABASE_URL: db.url, EVENT_BUS: 'postgres' };
  const servers = await Promise.all([startServer({ env }), startServer({ env })]);
  for (const s of servers) cleanups.push(() => s.stop());
  return {
    db,
    servers,
    /** client connects to server i (0 or 1) and records what it receives. */
    async client(i, mode = 'websocket') {
      const socket = await connect(servers[i].url, { mode, reconnection: true, reconnectionDelay: 100 });
      cleanups.push(async () => socket.close());
      return { socket, got: recorder(socket) };
    },
    /**
     * settled waits until server i counts n sockets: "connected" comes just before the server
     * registers a socket, and an event sent in between would miss it.
     */
    async settled(i, n) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const h = await (await fetch(`${servers[i].url}/healthz`)).json();
        if (h.connections === n) return;
        if (Date.now() > deadline) throw new Error(`server ${i} counts ${h.connections} sockets, want ${n}`);
        await sleep(20);
      }
    },
  };
}

/** quietly waits long enough for a duplicate or a stray event to have arrived. */
const quietly = () => sleep(500);

async function edit(url, tweet, content) {
  const res = await fetch(`${url}/api/tweets/${tweet.id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tweet.edit_token}` },
    body: JSON.stringify({ content }),
  });
  assert.equal(res.status, 200, await res.text());
}

async function remove(url, tweet) {
  const res = await fetch(`${url}/api/tweets/${tweet.id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${tweet.edit_token}` },
  });
  assert.equal(res.status, 204, await res.text());
}

test('writes through one process reach the clients of both, each exactly once', { skip: postgresSkip, timeout: 60_000 }, async (t) => {
  const p = await twoProcesses(t);
  const [ws1, poll1, ws2] = [await p.client(0), await p.client(0, 'polling'), await p.client(1)];
  await p.settled(0, 2);
  await p.settled(1, 1);
  const everyone = [ws1, poll1, ws2];

  const tweet = await postTweet(p.servers[1].url, 'posted to process 2');
  await until(() => everyone.every((c) => c.got.newTweet.length >= 1), 'every client has newTweet');
  await edit(p.servers[1].url, tweet, 'edited through process 2');
  await until(() => everyone.every((c) => c.got.tweetUpdated.length >= 1), 'every client has tweetUpdated');
  await remove(p.servers[0].url, tweet);
  await until(() => everyone.every((c) => c.got.tweetDeleted.length >= 1), 'every client has tweetDeleted');
  await quietly();

  for (const [name, c] of [['websocket on 1', ws1], ['polling on 1', poll1], ['websocket on 2', ws2]]) {
    assert.deepEqual(c.got.newTweet, [[true]], `${name}: newTweet`);
    assert.deepEqual(c.got.tweetUpdated, [[{ id: tweet.id }]], `${name}: tweetUpdated`);
    assert.deepEqual(c.got.tweetDeleted, [[{ id: tweet.id }]], `${name}: tweetDeleted`);
  }
});

test('a relayed newTweet reaches the other process and never its sender', { skip: postgresSkip, timeout: 60_000 }, async (t) => {
  const p = await twoProcesses(t);
  const [sender, neighbour, far] = [await p.client(0), await p.client(0, 'polling'), await p.client(1)];
  await p.settled(0, 2);
  await p.settled(1, 1);

  sender.socket.emit('newTweet', true);
  await until(() => neighbour.got.newTweet.length >= 1 && far.got.newTweet.length >= 1, 'both listeners have the relay');
  await quietly();
  assert.deepEqual(far.got.newTweet, [[true]], 'the client of the other process: once');
  assert.deepEqual(neighbour.got.newTweet, [[true]], 'the sender\'s neighbour: once');
  assert.deepEqual(sender.got.newTweet, [], 'the sender hears nothing of its own relay');
});

test('a cut listener heals, its clients are told once to catch up, and events flow again', { skip: postgresSkip, timeout: 60_000 }, async (t) => {
  const p = await twoProcesses(t);
  const [c1, c2] = [await p.client(0), await p.client(1)];
  await p.settled(0, 1);
  await p.settled(1, 1);

  const name = /msg="event bus listening".*application_name="([^"]+)"/.exec(p.servers[0].logs())?.[1];
  assert.ok(name, `process 1 logs its listener's application_name:\n${p.servers[0].logs()}`);
  const killed = await queryPostgres(p.db.url,
    `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${name}' AND datname = current_database()`);
  assert.equal(killed, '1', `one listener named ${name} in this test's database`);

  await until(() => c1.got.newTweet.length >= 1, 'the healed process tells its clients to catch up', 5000);
  const ready = await fetch(`${p.servers[0].url}/readyz`);
  assert.equal(ready.status, 200, `healed, process 1 is ready: ${await ready.text()}`);
  await postTweet(p.servers[1].url, 'after the heal');
  await until(() => c1.got.newTweet.length >= 2, 'a tweet posted to process 2 reaches process 1 again', 5000);
  await quietly();
  assert.equal(c1.got.newTweet.length, 2, 'one catch-up hint after the heal, then the new tweet');
  assert.equal(c2.got.newTweet.length, 1, 'process 2\'s client: the new tweet only');

  const logs = p.servers[0].logs();
  assert.equal((logs.match(/level=WARN msg="event bus down/g) ?? []).length, 1, `one warning:\n${logs}`);
  assert.equal((logs.match(/level=INFO msg="event bus back/g) ?? []).length, 1, `one info when back:\n${logs}`);
});

/**
 * follow keeps a timeline from a connected socket as the page does, with the page's own store,
 * API client and re-check: the newest tweets first; on newTweet (and every reconnect) the walk
 * forward from the newest id; on tweetUpdated the tweet read again; on tweetDeleted its
 * removal; on resync (and every reconnect) the tweets shown checked again. Events are handled
 * one at a time, in order, as they arrive.
 */
function follow(url, socket) {
  const api = new Api(url);
  const store = new TweetStore();
  let queue = Promise.resolve();
  const errors = [];
  const then = (f) => { queue = queue.then(f).catch((err) => errors.push(err)); };
  const walk = async () => {
    for (let i = 0; i < 100; i++) {
      const page = await api.tweets({ min_id: store.newestInOrder, limit: 100 });
      store.addNewer(page);
      if (page.length < 100) return;
    }
  };
  const again = async () => {
    const { updated, removed } = await recheck(store, api);
    for (const t of updated) if (isNewer(t, store.get(t.id))) store.update(t);
    for (const id of removed) store.remove(id);
    await walk();
  };
  let connects = 0;
  socket.on('connect', () => { if (++connects > 1) then(again); });
  socket.on('newTweet', () => then(walk));
  socket.on('tweetUpdated', ({ id }) => then(async () => {
    if (!store.has(id)) return;
    try {
      const t = await api.request('GET', `/api/tweets/${id}`);
      if (isNewer(t, store.get(id))) store.update(t);
    } catch (err) {
      if (err.status !== 404) throw err;
      store.remove(id);
    }
  }));
  socket.on('tweetDeleted', ({ id }) => then(() => store.remove(id)));
  socket.on('resync', () => then(again));
  then(async () => store.addFirst(await api.tweets({ limit: 100 }), 100));
  return {
    errors,
    /** shown is what the timeline shows: [id, content], newest first. */
    shown: () => store.ids().map((id) => [id, store.get(id).content]),
  };
}

/** timeline is the database's timeline as [id, content], newest first (fewer than 100 tweets). */
async function timeline(url) {
  const res = await fetch(`${url}/api/tweets?limit=100`);
  assert.equal(res.status, 200);
  return (await res.json()).map((t) => [t.id, t.content]);
}

test('edits and deletes made while a process was deaf reach its clients once it hears again', { skip: postgresSkip, timeout: 90_000 }, async (t) => {
  const p = await twoProcesses(t);
  const [a, b] = p.servers;
  const tweets = [];
  for (let i = 0; i < 6; i++) tweets.push(await postTweet(a.url, `tweet ${i}`));
  const clients = [];
  for (const mode of ['websocket', 'polling']) {
    const { socket } = await p.client(1, mode);
    clients.push({ name: `${mode} on B`, ...follow(b.url, socket) });
  }
  await p.settled(1, 2);
  const before = await timeline(a.url);
  for (const c of clients) await until(() => JSON.stringify(c.shown()) === JSON.stringify(before), `${c.name} shows the six tweets`);

  // B's listener is cut and cannot come back (its pooled connections, and A's, go on working)
  // while A edits and deletes.
  const hear = await deafen(p.db, b);
  t.after(hear);
  for (const tw of tweets.slice(0, 3)) await edit(a.url, tw, `${tw.content}, edited while B was deaf`);
  for (const tw of tweets.slice(3)) await remove(a.url, tw);
  await hear();
  const healed = Date.now();

  const want = await timeline(a.url);
  assert.equal(want.length, 3);
  for (const c of clients) {
    try {
      await until(() => JSON.stringify(c.shown()) === JSON.stringify(want), `${c.name} shows the database's tweets`, 15_000);
    } catch (err) {
      err.message += `\nwant ${JSON.stringify(want)}\ngot  ${JSON.stringify(c.shown())}`;
      throw err;
    }
    assert.deepEqual(c.errors, [], `${c.name}: errors handling events`);
  }
  t.diagnostic(`B's clients show the database's tweets ${Date.now() - healed} ms after the database let B listen again`);
});
