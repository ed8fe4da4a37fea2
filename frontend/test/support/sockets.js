// Helpers for talking to the backend with the real socket.io 2.x client from npm.
import io24 from 'socket.io-client';
import io25 from 'socket.io-client-2.5';

export const clients = { '2.4.0': io24, '2.5.0': io25 };

export const modes = {
  polling: { transports: ['polling'] },
  websocket: { transports: ['websocket'] },
  default: {}, // polling first, then the upgrade to websocket
};

/**
 * connect opens a socket and waits for it to connect (or fails within 5 s). Once it has
 * connected, the socket is the test's: nothing here reacts to its later events.
 */
export function connect(url, { version = '2.4.0', mode = 'default', origin, ...opts } = {}) {
  const socket = clients[version](url, {
    forceNew: true,
    ...modes[mode],
    ...(origin ? { extraHeaders: { Origin: origin } } : {}),
    ...opts,
  });
  return new Promise((resolve, reject) => {
    // Both listeners go when either fires. A connect_error listener left behind would close
    // the socket at its first failed reconnect attempt (a server restarting, say), and a
    // closed 2.x client never tries again.
    const settle = () => {
      clearTimeout(timer);
      socket.off('connect', connected);
      socket.off('connect_error', failed);
    };
    const connected = () => { settle(); resolve(socket); };
    const failed = (err) => {
      settle();
      socket.close();
      reject(Object.assign(new Error(`connect_error: ${err.message ?? err}`), { cause: err }));
    };
    const timer = setTimeout(() => {
      settle();
      socket.close();
      reject(new Error(`no connect in 5 s (${version}, ${mode})`));
    }, 5000);
    socket.on('connect', connected);
    socket.on('connect_error', failed);
  });
}

/** recorder collects every event a socket receives, by name. */
export function recorder(socket, names = ['newTweet', 'tweetUpdated', 'tweetDeleted']) {
  const got = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) socket.on(n, (...args) => got[n].push(args));
  return got;
}

