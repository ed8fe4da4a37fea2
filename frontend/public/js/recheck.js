// Re-checking the tweets on screen against the API, after events may have been missed: the
// server's `resync` (its process was deaf to the others for a while) and every reconnect (events
// sent while the page had no socket never arrive). Edits and deletes come as events about one
// tweet, so a missed one is not caught up by asking what is new: the tweets shown are read again.
// No DOM here.

/** The API's largest page: a re-check costs one request per hundred tweets on screen. */
export const RECHECK_PAGE = 100;

/**
 * recheck reads the current state of every tweet in store, in one walk over the range of ids it
 * shows (since_id below the oldest, max_id above the newest, a hundred at a time, newest first:
 * reads the server's hot window answers from memory when many tabs ask at once), and returns
 * {updated: tweets that changed since they were shown, removed: ids that are gone}. It changes
 * nothing itself. Tweets in the range that are not on screen (new ones the reader has not asked
 * to see) are ignored: the new-tweets check counts those.
 */
export async function recheck(store, api) {
  const ids = store.ids();
  if (ids.length === 0) return { updated: [], removed: [] };
  const low = ids[ids.length - 1] - 1;
  let maxId = ids[0] + 1;
  const current = new Map();
  // Ids only leave a range (new ones are always above every committed one), so the walk reads
  // at most the tweets shown and the unseen new ones among them; the bound is a safety net.
  for (let i = 0; i < 1000; i++) {
    const page = await api.tweets({ since_id: low, max_id: maxId, limit: RECHECK_PAGE });
    for (const t of page) current.set(t.id, t);
    if (page.length < RECHECK_PAGE) break;
    maxId = page[page.length - 1].id;
  }
  const updated = [];
  const removed = [];
  for (const id of ids) {
    const now = current.get(id);
    if (!now) removed.push(id);
    else if (isNewer(now, store.get(id))) updated.push(now);
  }
  return { updated, removed };
}

/**
 * isNewer tells whether tweet is a later version than shown: an edit moves updated_at forward,
 * and a version read before an edit the page has already applied must not undo it.
 */
export function isNewer(tweet, shown) {
  if (!shown) return false;
  return tweet.updated_at !== shown.updated_at && Date.parse(tweet.updated_at) > Date.parse(shown.updated_at);
}
