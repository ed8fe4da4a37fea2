// Issue 10: socket limits as the real socket.io 2.x client meets them. A handshake over
// SOCKET_MAX_PER_IP (429) or SOCKET_MAX_TOTAL (503) is a connect_error in every transport mode,
// and a place given back is taken again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.js';
import { modes, connect } from './support/sockets.js';

const open = [];
after(() => { for (const s of open) s.close(); });
const track = (s) => { open.push(s); return s; };

for (const [limit, status] of [['SOCKET_MAX_PER_IP', 429], ['SOCKET_MAX_TOTAL', 503]]) {
  test(`${limit}=2: a third connection is refused (${status}), and accepted once one leaves`, async (t) => {
    const server = await startServer({ env: { [limit]: '2' } });
    t.after(() => server.stop());
    const a = track(await connect(server.url, { mode: 'polling' }));
    track(await connect(server.url, { mode: 'websocket' }));

    for (const mode of Object.keys(modes)) {
      await assert.rejects(connect(server.url, { mode, reconnection: false }), /connect_error/, `${mode} over the limit`);
    }
    const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(res.status, status);
    assert.equal((await res.json()).error.code, status === 429 ? 'rate_limited' : 'unavailable');

    a.close();
    let health;
    for (let i = 0; i < 200; i++) {
      health = await (await fetch(`${server.url}/healthz`)).json();
      if (health.sessions === 1) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(health.sessions, 1, 'the closed socket gave its place back');
    track(await connect(server.url, { mode: 'default' }));
    assert.match(server.logs(), new RegExp(`limit=${limit}`));
  });
}
