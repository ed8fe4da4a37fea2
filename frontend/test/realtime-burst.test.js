// Bursts against the real binary: many posts at once, and one client relaying newTweet in a
// loop, must disconnect no listener. Events are hints, so each client's queue keeps at most one
// waiting newTweet, and each connection may relay at most one newTweet a second. On SQLite
// always, and on PostgreSQL when TEST_DATABASE_URL is set (CHIRP_REQUIRE_POSTGRES makes its
// absence a failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, postTweet } from './support/server.js';
import { createPostgresDatabase, postgresSkip } from './support/postgres.js';
import { connect } from './support/sockets.js';
import { until, sleep } from './support/wait.js';

const PAGE = 100; // the API's largest page, as the page's "Show new" walks

const databases = [
  { name: 'SQLite', skip: false, open: async () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    skip: postgresSkip,
    open: async () => {
      const db = await createPostgresDatabase('burst');
      return { env: { DATABASE_URL: db.url }, drop: db.drop };
    },
  },
];

/**
 * setup gives a test a server on a fresh database of the kind and a cleanup list run last-in
 * first-out after the test (sockets close before the server stops, the database drops last).
 */
async function setup(t, database) {
  const cleanups = [];
  t.after(async () => {
    const errors = [];
    while (cleanups.length) await cleanups.pop()().catch((err) => errors.push(err));
    if (errors.length) throw errors[0];
  });
  const db = await database.open();
  cleanups.push(db.drop);
  const server = await startServer({ env: { ...db.env, LOG_LEVEL: 'debug' } });
  cleanups.push(() => server.stop());
  return {
    server,
    /** sockets connects n clients, alternating websocket and polling, ten at a time. */
    async sockets(n) {
      const out = [];
      for (let i = 0; i < n; i += 10) {
        const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) =>
          connect(server.url, { mode: (i + j) % 2 ? 'polling' : 'websocket', reconnection: false })));
        for (const s of batch) cleanups.push(async () => s.close());
        out.push(...batch);
      }
      // The library says "connected" just before the server registers the socket: wait until
      // the server counts every one, so no event falls into that window.
      await until(async () => (await health(server.url)).connections === n, `the server counts ${n} sockets`, 10_000);
      return out;
    },
  };
}

async function health(url) {
  return (await fetch(`${url}/healthz`)).json();
}

/**
 * listen makes socket behave as the page's "Show new" does: on every newTweet it walks forward
 * with min_id from the newest id it holds until a short page, at most one walk at a time, and
 * one more walk afterwards when a newTweet came in during it.
 */
function listen(socket, url, fromId) {
  const l = { ids: new Set(), newest: fromId, disconnects: [], errors: [], walking: false, again: false };
  socket.on('disconnect', (reason) => l.disconnects.push(reason));
  socket.on('newTweet', async function walk() {
    if (l.walking) { l.again = true; return; }
    l.walking = true;
    try {
      do {
        l.again = false;
        for (let i = 0; i < 20; i++) { // 200 tweets are 3 pages; the bound only stops a runaway
          const res = await fetch(`${url}/api/tweets?min_id=${l.newest}&limit=${PAGE}`);
          if (res.status !== 200) throw new Error(`GET min_id=${l.newest}: ${res.status} ${await res.text()}`);
          const page = await res.json(); // newest first
          for (const tweet of page) l.ids.add(tweet.id);
          if (page.length) l.newest = Math.max(l.newest, page[0].id);
          if (page.length < PAGE) break;
        }
      } while (l.again);
    } catch (err) {
      l.errors.push(err);
    } finally {
      l.walking = false;
    }
  });
  return l;
}

for (const database of databases) {
  test(`${database.name}: 200 simultaneous posts reach 50 walking listeners, none dropped`, { skip: database.skip, timeout: 180_000 }, async (t) => {
    const { server, sockets } = await setup(t, database);
    // Walks start from a real tweet: min_id=0 is a separate case (being fixed elsewhere).
    const seed = await postTweet(server.url, 'seed');
    const listeners = (await sockets(50)).map((s) => listen(s, server.url, seed.id));

    const created = await Promise.all(Array.from({ length: 200 }, (_, i) => postTweet(server.url, `burst ${i}`)));
    const want = created.map((tweet) => tweet.id).sort((a, b) => a - b);
    assert.equal(new Set(want).size, 200);

    const done = () => listeners.every((l) => l.ids.size >= 200 || l.errors.length || l.disconnects.length);
    try {
      await until(done, 'every listener holds the 200 new tweets', 60_000);
    } finally {
      const short = listeners.filter((l) => l.ids.size !== 200).map((l) => l.ids.size);
      if (short.length) t.diagnostic(`listeners short of 200: ${short.join(' ')}`);
    }
    for (const [i, l] of listeners.entries()) {
      assert.deepEqual(l.disconnects, [], `listener ${i} was disconnected`);
      assert.deepEqual(l.errors, [], `listener ${i}'s walk failed`);
      assert.deepEqual([...l.ids].sort((a, b) => a - b), want, `listener ${i} holds exactly the created tweets`);
    }
    assert.doesNotMatch(server.logs(), /queue is full/, 'the server dropped a listener');
    assert.equal((await health(server.url)).connections, 50);
  });

  test(`${database.name}: a client emitting 1,000 newTweet at once is relayed at most once a second`, { skip: database.skip, timeout: 60_000 }, async (t) => {
    const { server, sockets } = await setup(t, database);
    const [sender, ...others] = await sockets(7);
    const got = others.map((s) => {
      const r = { newTweet: 0, disconnects: [] };
      s.on('newTweet', () => { r.newTweet++; });
      s.on('disconnect', (reason) => r.disconnects.push(reason));
      return r;
    });
    const senderDisconnects = [];
    sender.on('disconnect', (reason) => senderDisconnects.push(reason));

    for (let i = 0; i < 1000; i++) sender.emit('newTweet', true);
    await sleep(3000);

    const counts = got.map((r) => r.newTweet);
    for (const [i, r] of got.entries()) {
      assert.deepEqual(r.disconnects, [], `client ${i} was disconnected`);
      assert.ok(r.newTweet >= 1 && r.newTweet <= 4, `client ${i} got ${r.newTweet} relays in 3 s (all: ${counts})`);
    }
    assert.deepEqual(senderDisconnects, [], 'the sender is limited, not disconnected');
    assert.doesNotMatch(server.logs(), /queue is full/, 'the server dropped a client');
    // The dropped relays are logged once for the connection, not once each.
    assert.equal(server.logs().match(/newTweet relays dropped/g)?.length, 1, 'one log record for the dropped relays');
    assert.equal((await health(server.url)).connections, 7);
  });
}
