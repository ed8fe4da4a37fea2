// The Node peer: Chirp's API and socket.io events on express + socket.io 4 + pg, the stack Chirp
// replaces, so backend/bench's scripts can measure both on the same machine in the same run.
// Only wiring here: read the environment, open the store, put the API and socket.io on one
// HTTP server, listen, and close everything on SIGINT/SIGTERM.
//   DATABASE_URL=postgres://… PORT=8000 HOST=127.0.0.1 node server.js
import http from 'node:http';
import { Server } from 'socket.io';
import { createApi } from './api.js';
import { openTweets } from './tweets.js';

const log = (line) => console.error(`node-peer: ${line}`);

async function main(env) {
  if (!env.DATABASE_URL?.startsWith('postgres')) {
    throw new Error('DATABASE_URL must be a PostgreSQL URL (postgres://user@host:5432/db)');
  }
  const port = Number(env.PORT || 8000);
  const host = env.HOST || '127.0.0.1';
  const tweets = await openTweets(env.DATABASE_URL);

  // The API announces through io, which exists only once the server does: the events object
  // closes over a variable set just below, before anything can be posted.
  let io;
  const events = {
    newTweet: () => io.emit('newTweet', true),
    tweetUpdated: (id) => io.emit('tweetUpdated', { id }),
    tweetDeleted: (id) => io.emit('tweetDeleted', { id }),
  };
  const server = http.createServer(createApi({ tweets, events, log }));
  io = new Server(server, { cors: { origin: '*' } });
  // A client that posted tells the others (the original tutorial's protocol): relayed as true,
  // its own data dropped, to everyone but the sender. Chirp limits this relay; the peer does not.
  io.on('connection', (socket) => {
    socket.on('newTweet', () => socket.broadcast.emit('newTweet', true));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  log(`listening on http://${host}:${port}`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // io.close() closes the HTTP server too; the pool goes last so no request loses it midway.
    io.close(() => tweets.close().finally(() => process.exit(0)));
    // A kept-alive connection with a request in flight holds the close; the scripts wait for
    // this process to exit, so it never waits longer than this.
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.env).catch((err) => {
  log(err.stack ?? String(err));
  process.exit(1);
});
