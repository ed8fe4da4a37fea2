// What the account dialogs share: a problem shown at its field (the message under it, named by
// aria-describedby, and aria-invalid), the words for a refusal that is about no field, a row of
// a list with its button, and a dialog that gives the focus back when it closes.

/** sentence makes a server's message ("handle is required") a sentence. */
export function sentence(message) {
  const s = String(message ?? '').trim();
  if (!s) return '';
  return s[0].toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
}

/**
 * fieldProblems maps an ApiError to problems at fields of names (a 422's fields, a 409 at the
 * handle); returns {field: message}, empty when the error is about no field shown.
 */
export function fieldProblems(err, names) {
  const out = {};
  if (err?.status === 422) {
    for (const [k, v] of Object.entries(err.fields ?? {})) if (names.includes(k)) out[k] = sentence(v);
  }
  if (err?.status === 409 && names.includes('handle')) out.handle = sentence(err.message) || 'This handle is taken.';
  return out;
}

/** refusal says what went wrong when it is about no one field: the wait of a 429, the rest as the server says. */
export function refusal(err) {
  if (err?.status === 429) {
    return err.retryAfter ? `Too many tries — try again in ${err.retryAfter} s.` : 'Too many tries — wait a moment and try again.';
  }
  return sentence(err?.message) || 'That did not work. Try again.';
}

/** showProblems shows problems ({name: message}) at the form's fields and clears the others; focuses the first. */
export function showProblems(form, problems) {
  let first = null;
  for (const input of form.querySelectorAll('input[name]')) {
    const message = problems[input.name] ?? '';
    const node = form.querySelector(`#${input.id}-problem`);
    if (node) node.textContent = message;
    input.setAttribute('aria-invalid', String(message !== ''));
    if (message && !first) first = input;
  }
  first?.focus();
  return first !== null;
}

/**
 * openDialog shows a modal dialog (Escape closes it, the browser's way) and, when it closes,
 * gives the focus back to where it was, or to `fallback()` when that is gone from view.
 */
export function openDialog(dialog, fallback = () => null) {
  const back = document.activeElement;
  dialog.showModal();
  dialog.addEventListener('close', () => {
    const now = document.activeElement;
    if (now && now !== document.body && !dialog.contains(now)) return;
    const target = back?.isConnected && back.checkVisibility?.() ? back : fallback();
    target?.focus();
  }, { once: true });
}

/**
 * listRow is a row of a dialog's list (a passkey, a device): its words (the element `id`) and,
 * with an action, a button (data-action, data-id) described by them, so that a screen reader
 * says which row's "Remove" it is.
 */
export function listRow({ id, text, action = null, label = '', dataId = '' }) {
  const li = document.createElement('li');
  const what = document.createElement('span');
  what.id = id;
  what.textContent = text;
  li.append(what);
  if (action) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'link danger';
    button.dataset.action = action;
    button.dataset.id = dataId;
    button.textContent = label;
    button.setAttribute('aria-describedby', id);
    li.append(button);
  }
  return li;
}
