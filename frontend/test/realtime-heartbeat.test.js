// Heartbeat, with the production defaults (PING_INTERVAL 25 s, PING_TIMEOUT 45 s): a healthy
// idle client stays connected indefinitely, and one that vanishes without a word is dropped and
// forgotten within about a minute. Slow by nature (2 minutes), so it has a file of its own and
// runs beside the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, postTweet } from './support/server.js';
import { connect, recorder } from './support/sockets.js';
import { until, sleep } from './support/wait.js';

async function connections(url) {
  return (await (await fetch(`${url}/healthz`)).json()).connections;
}

test('idle clients stay; vanished clients are dropped within a minute', { timeout: 240_000 }, async (t) => {
  const server = await startServer({ env: { LOG_LEVEL: 'info' } });
  t.after(() => server.stop());

  const idle = await Promise.all(['polling', 'websocket', 'default'].map((mode) => connect(server.url, { mode })));
  t.after(() => idle.forEach((s) => s.close()));
  const dropped = [];
  idle.forEach((s, i) => s.on('disconnect', (reason) => dropped.push([i, reason])));

  // A websocket client that completes the handshake and then never pings, as a frozen laptop.
  const silentWS = new WebSocket(`${server.url.replace('http', 'ws')}/socket.io/?EIO=3&transport=websocket`);
  t.after(() => silentWS.terminate());
  await new Promise((resolve, reject) => { silentWS.once('open', resolve); silentWS.once('error', reject); });
  // A polling client that handshakes and is never heard of again.
  const hs = await (await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`)).text();
  assert.match(hs, /"sid":"[^"]+"/);

  let count = 0;
  for (let i = 0; i < 50 && count !== 5; i++) { count = await connections(server.url); await sleep(100); }
  assert.equal(count, 5, 'three idle clients and two silent ones are connected');

  // The silent ones are gone within PING_TIMEOUT (45 s) plus a margin.
  const start = Date.now();
  while (await connections(server.url) !== 3) {
    assert.ok(Date.now() - start < 60_000, `silent clients still counted after ${(Date.now() - start) / 1000} s`);
    await sleep(500);
  }
  const droppedAfter = (Date.now() - start) / 1000;
  assert.ok(droppedAfter <= 60, `dropped after ${droppedAfter} s`);

  // The healthy ones, idle all along, are still there after two minutes and still hear events.
  await sleep(Math.max(0, 125_000 - (Date.now() - start)));
  assert.deepEqual(dropped, [], 'an idle healthy client was disconnected');
  assert.equal(await connections(server.url), 3);
  const got = idle.map((s) => recorder(s));
  await postTweet(server.url, 'still there?');
  await until(() => got.every((g) => g.newTweet.length === 1), 'idle clients hear a new tweet');
});
