// The account's signed-in devices (its sessions) as the account dialog lists them: this
// device first, the others newest first, each said in words that tell two apart (the time, not
// just the day). The words are pure (tested without a browser); `drawDevices` makes the rows.
import { listRow } from './forms.js';

const whenOf = (s) => new Date(s).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * describeDevices turns GET /api/sessions's answer into rows: [{id, current, text}], the
 * current session first ("This device": the header's "Sign out" ends it), then the others in
 * the server's order (newest sign-in first). `when` formats a timestamp.
 */
export function describeDevices(sessions, when = whenOf) {
  const rows = sessions.map((s) => ({
    id: s.id,
    current: Boolean(s.current),
    text: s.current ? 'This device' : `Signed in ${when(s.created_at)}, last used ${when(s.last_used_at)}`,
  }));
  return [...rows.filter((r) => r.current), ...rows.filter((r) => !r.current)];
}

/**
 * afterRemoval says which device's button takes the focus once the device at `index` of
 * `before` (the ids of the rows with a button, in order) is gone: the one that took its place,
 * else the one before it; null when none is left.
 */
export function afterRemoval(before, index) {
  const left = before.filter((_, i) => i !== index);
  if (left.length === 0) return null;
  return left[Math.min(index, left.length - 1)];
}

/**
 * drawDevices fills list with the rows: the words, and for every other device a "Sign out"
 * button (data-action="end-session", data-id) described by its row.
 */
export function drawDevices(list, rows) {
  list.replaceChildren(...rows.map((r) => listRow({
    id: `device-${r.id}`, text: r.text, action: r.current ? null : 'end-session', label: 'Sign out', dataId: String(r.id),
  })));
}
