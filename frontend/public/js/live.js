// The live connection: socket.io 2.x, its client script loaded from the API (the server's own
// version), websocket first, polling when websocket cannot get through (a proxy that refuses
// upgrades, say); the 2.x client does not fall back on its own.

/**
 * loadLive loads the client script from the API, retried while the API is away (reported as
 * onStatus('reconnecting')), then connects (connectLive, with the same handlers). Returns
 * {announce()}, which does nothing until the connection is there.
 */
export function loadLive(apiUrl, handlers) {
  let live = null;
  const load = (delay = 0) => {
    setTimeout(() => {
      const script = document.createElement('script');
      script.src = `${apiUrl}/socket.io/socket.io.js`;
      script.onload = () => {
        live = connectLive(window.io, apiUrl, handlers);
      };
      script.onerror = () => {
        script.remove();
        handlers.onStatus?.('reconnecting');
        load(Math.min(delay * 2 || 1000, 10_000));
      };
      document.head.append(script);
    }, delay);
  };
  load();
  return { announce() { live?.announce(); } };
}

/**
 * connectLive opens the socket and reports through handlers:
 * onNewTweet(), onTweetUpdated(id), onTweetDeleted(id), onResync() (the server may have missed
 * events: read the tweets shown again), onStatus('online'|'reconnecting'), onConnect(first) (at
 * every connect, the first included: time to check what was missed, since events sent while
 * the page had no socket never arrive).
 */
export function connectLive(io, apiUrl, handlers) {
  const socket = io(apiUrl, {
    transports: ['websocket'],
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    // A websocket that a proxy accepts and then drops before the handshake raises no error in
    // the 2.x client, only this timeout (20 s by default): keep it short so the fallback is.
    timeout: 5000,
  });
  let everConnected = false;
  let fellBack = false;

  const fallBack = () => {
    if (fellBack || everConnected) return;
    fellBack = true;
    // Polling first, and the upgrade to websocket if it works after all.
    socket.io.opts.transports = ['polling', 'websocket'];
  };
  socket.on('connect_error', fallBack);
  socket.on('connect_timeout', fallBack);
  socket.on('connect', () => {
    const first = !everConnected;
    everConnected = true;
    handlers.onStatus?.('online');
    handlers.onConnect?.(first);
  });
  socket.on('disconnect', (reason) => {
    if (reason === 'io client disconnect') return;
    handlers.onStatus?.('reconnecting');
  });
  socket.on('connect_error', () => {
    if (everConnected) handlers.onStatus?.('reconnecting');
  });
  socket.on('newTweet', () => handlers.onNewTweet?.());
  socket.on('tweetUpdated', (p) => Number.isSafeInteger(p?.id) && handlers.onTweetUpdated?.(p.id));
  socket.on('tweetDeleted', (p) => Number.isSafeInteger(p?.id) && handlers.onTweetDeleted?.(p.id));
  socket.on('resync', () => handlers.onResync?.());

  return {
    socket,
    /** announce tells the other tabs, as the original protocol does, that this one posted. */
    announce() { if (socket.connected) socket.emit('newTweet', true); },
    close() { socket.close(); },
  };
}
