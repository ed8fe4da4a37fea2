// Where the page is, from its URL's fragment, so that any static host serves every view:
// `#/@handle` is an account's profile, `#/` (or nothing) the timeline. Other fragments (the skip
// link's `#feed`) are places within the view shown, not views. No DOM here.

/** parseRoute reads a fragment: {view: 'timeline'}, {view: 'profile', handle}, or null (not a view). */
export function parseRoute(hash) {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  if (h === '' || h === '/') return { view: 'timeline' };
  const m = /^\/@([^/?#]+)\/?$/.exec(h);
  if (!m) return null;
  let handle;
  try { handle = decodeURIComponent(m[1]); } catch { return { view: 'profile', handle: m[1] }; }
  return { view: 'profile', handle };
}

/** profileHref is the link to an account's profile. */
export function profileHref(handle) {
  return `#/@${encodeURIComponent(handle)}`;
}
