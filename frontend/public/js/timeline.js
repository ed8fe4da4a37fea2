// The timeline on screen: tweets as DOM nodes (text only, never HTML from the network), newest
// first, and the editing and deleting of one's own tweets. It changes no tweet itself: it
// reports the reader's edits and deletes (onEdit, onDelete) and shows what the controller says.
import { profileHref } from './route.js';
import { linkParts, relativeTime, cleanText, textProblem, MAX_CONTENT, charactersLeft, avatarLetter } from './format.js';

const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'dir' || k === 'rel' || k === 'for' || k === 'href') node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children);
  return node;
};

export class TimelineView {
  /**
   * @param {object} deps {list, dialog (the delete dialog), tweet(id) (the tweet as shown),
   *   mine(id) (whether this browser may edit and delete it), onEdit(id, content) and
   *   onDelete(id) (resolve once done; reject with an ApiError)}
   */
  constructor({ list, dialog, tweet, mine, onEdit, onDelete }) {
    Object.assign(this, { list, dialog, tweet, mine, onEdit, onDelete });
    this.list.addEventListener('click', (e) => this.#onClick(e));
    // Relative times age while the page stays open.
    setInterval(() => this.refreshTimes(), 60_000);
  }

  /** insert puts tweets in their place, newest first, and returns their nodes. */
  insert(tweets) {
    const nodes = [];
    for (const t of [...tweets].sort((a, b) => b.id - a.id)) {
      const node = this.#render(t);
      let before = null;
      for (const li of this.list.children) {
        if (Number(li.dataset.id) < t.id) { before = li; break; }
      }
      this.list.insertBefore(node, before);
      nodes.push(node);
    }
    return nodes;
  }

  /**
   * replace re-renders a tweet that changed. An edit made elsewhere does not throw away the
   * reader's own edit in progress; `force` ends that edit.
   */
  replace(id, force = false) {
    const old = this.#node(id);
    const t = this.tweet(id);
    if (!old || !t || (old.classList.contains('editing') && !force)) return;
    const active = document.activeElement;
    const node = this.#render(t);
    old.replaceWith(node);
    // A re-render (an edit arriving from the socket, one's own included) keeps the focus: on
    // the same button, or on the tweet itself.
    if (old.contains(active)) {
      const same = active.dataset.action && node.querySelector(`[data-action="${active.dataset.action}"]`);
      if (!same) node.tabIndex = -1;
      (same || node).focus();
    }
  }

  remove(id) {
    this.#node(id)?.remove();
  }

  /** rerender draws every tweet again (who may edit which changed: a sign-in, a sign-out). */
  rerender() {
    for (const li of [...this.list.children]) this.replace(Number(li.dataset.id), true);
  }

  /** clear takes every tweet away (another list is about to be shown). */
  clear() {
    this.list.replaceChildren();
  }

  /** busy marks the list as loading (aria-busy) or not. */
  busy(on) {
    if (on) this.list.setAttribute('aria-busy', 'true');
    else this.list.removeAttribute('aria-busy');
  }

  /** focusNewest puts the focus on the newest tweet: where "Show new" was, for keyboard and screen-reader users. */
  focusNewest() {
    const first = this.list.querySelector('li.tweet');
    if (first) {
      first.tabIndex = -1;
      first.focus({ preventScroll: true });
    }
  }

  /** connectionBack takes away the tweets' failures to reach Chirp, now stale. */
  connectionBack() {
    for (const error of this.list.querySelectorAll('.error[data-offline]')) {
      error.textContent = '';
      error.removeAttribute('data-offline');
    }
  }

  refreshTimes() {
    const now = new Date();
    for (const time of this.list.querySelectorAll('time')) {
      time.textContent = relativeTime(new Date(time.dateTime), now);
    }
  }

  #node(id) { return this.list.querySelector(`li[data-id="${id}"]`); }

  #render(t) {
    const created = new Date(t.created_at);
    const li = el('li', { class: 'tweet', 'data-id': String(t.id) });
    const time = el('time', { dateTime: t.created_at, title: created.toLocaleString(), text: relativeTime(created) });
    const head = el('header', { class: 'tweet-head' },
      el('span', { class: 'avatar', 'aria-hidden': 'true', text: avatarLetter(t.author) }),
      el('strong', { class: 'author', dir: 'auto', text: t.author }));
    // An account's handle is what tells it apart from a guest who typed the same name.
    if (t.account) head.append(el('a', { class: 'handle', href: profileHref(t.account.handle), text: `@${t.account.handle}` }));
    head.append(el('span', { class: 'dot', 'aria-hidden': 'true', text: '·' }), time);
    if (t.updated_at !== t.created_at) {
      head.append(el('span', { class: 'edited', title: `Edited ${new Date(t.updated_at).toLocaleString()}`, text: 'edited' }));
    }
    const body = el('p', { class: 'content', dir: 'auto' });
    for (const part of linkParts(t.content)) {
      body.append(part.href
        ? el('a', { href: part.href, rel: 'noopener noreferrer nofollow', target: '_blank', text: part.text })
        : document.createTextNode(part.text));
    }
    li.append(head, body);
    if (this.mine(t.id)) {
      li.append(el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'link', 'data-action': 'edit', text: 'Edit' }),
        el('button', { type: 'button', class: 'link danger', 'data-action': 'delete', text: 'Delete' })));
    }
    li.append(el('p', { class: 'error', role: 'alert' }));
    return li;
  }

  #onClick(e) {
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    const li = button.closest('li.tweet');
    const id = Number(li.dataset.id);
    const action = button.dataset.action;
    if (action === 'edit') this.#startEdit(li, id);
    else if (action === 'delete') this.#delete(li, id);
    else if (action === 'save') this.#save(li, id);
    else if (action === 'cancel') this.#endEdit(id);
  }

  #startEdit(li, id) {
    const t = this.tweet(id);
    li.classList.add('editing');
    const area = el('textarea', { class: 'edit-box', rows: 3, value: t.content, 'aria-label': 'Edit tweet' });
    const left = el('span', { class: 'counter' });
    const save = el('button', { type: 'button', class: 'primary small', 'data-action': 'save', text: 'Save' });
    const update = () => {
      const n = charactersLeft(area.value);
      left.textContent = String(n);
      left.classList.toggle('over', n < 0);
      area.setAttribute('aria-invalid', String(n < 0));
      save.disabled = textProblem(cleanText(area.value), MAX_CONTENT, true) !== '';
    };
    area.addEventListener('input', update);
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); if (!save.disabled) this.#save(li, id); }
      if (e.key === 'Escape') this.#endEdit(id);
    });
    li.querySelector('.content').replaceWith(area);
    li.querySelector('.actions').replaceChildren(left,
      el('button', { type: 'button', class: 'link', 'data-action': 'cancel', text: 'Cancel' }), save);
    update();
    area.focus();
  }

  /**
   * #endEdit shows the tweet again; the focus, which was in the edit (or fell to the document
   * when the edit was replaced), goes to the tweet's Edit button, where the person left off.
   */
  #endEdit(id) {
    const active = document.activeElement;
    const hadFocus = !active || active === document.body || this.#node(id)?.contains(active);
    this.replace(id, true);
    if (hadFocus) this.#node(id)?.querySelector('[data-action="edit"]')?.focus();
  }

  async #save(li, id) {
    const area = li.querySelector('textarea');
    const error = li.querySelector('.error');
    const save = li.querySelector('[data-action="save"]');
    save.disabled = true;
    error.textContent = '';
    try {
      await this.onEdit(id, area.value);
      this.#endEdit(id);
    } catch (err) {
      showError(error, err, err.fields?.content ? `Content ${err.fields.content}.` : err.message);
      save.disabled = false;
      // Focus on the document: Save had it, and lost it when disabled; it is where to try again.
      if (document.activeElement === document.body) save.focus();
    }
  }

  async #delete(li, id) {
    if (!(await this.#confirmDelete())) return;
    const error = li.querySelector('.error');
    error.textContent = '';
    try {
      await this.onDelete(id);
    } catch (err) {
      showError(error, err, err.message);
    }
  }

  /** #confirmDelete asks with the dialog; resolves to whether the person chose Delete. */
  #confirmDelete() {
    return new Promise((resolve) => {
      this.dialog.returnValue = '';
      this.dialog.showModal();
      this.dialog.addEventListener('close', () => resolve(this.dialog.returnValue === 'delete'), { once: true });
    });
  }
}

/** showError shows a failure under a tweet, marked when it was a failure to reach Chirp. */
function showError(node, err, text) {
  node.textContent = text;
  node.toggleAttribute('data-offline', err.status === 0);
}
