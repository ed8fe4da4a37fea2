// The header's account part: "Sign up" and "Sign in" signed out; "@handle" (the profile's link),
// "Account" and "Sign out" signed in; and the note that says why the page was signed out when
// the reader did not ask (the session ended elsewhere, the account was deleted). Every
// `[data-open]` button of the page opens its dialog through `onOpen(name)`.
import { profileHref } from './route.js';

const NOTES = {
  ended: 'You were signed out: your session ended (signed out elsewhere, or unused for too long). Sign in again to post as your account.',
  deleted: 'Your account is deleted.',
  'signed-out': 'Signed out.',
};

export class AccountBar {
  /** @param {object} deps {root (the header's nav), note (a status region), onOpen(name), onSignOut()} */
  constructor({ root, note, onOpen, onSignOut }) {
    Object.assign(this, { root, note });
    this.out = root.querySelector('#signed-out');
    this.in = root.querySelector('#signed-in');
    this.link = root.querySelector('#me-link');
    document.addEventListener('click', (e) => {
      const opener = e.target.closest('button[data-open]');
      if (opener) onOpen(opener.dataset.open);
    });
    root.querySelector('#sign-out').addEventListener('click', () => onSignOut());
  }

  /** show draws the bar for `me` (the account, or null); `why` a change says why (a Session's). */
  show(me, why = null) {
    const hadFocus = this.root.contains(document.activeElement);
    this.in.hidden = !me;
    this.out.hidden = Boolean(me);
    this.link.textContent = me ? `@${me.handle}` : '';
    this.link.href = me ? profileHref(me.handle) : '#/';
    this.note.textContent = me ? '' : (NOTES[why] ?? '');
    // The button pressed went away with the state it belonged to: the focus stays in the bar.
    if (hadFocus && !this.root.contains(document.activeElement)) this.focus();
  }

  /** focus puts the focus on the bar's first control (after a dialog that changed who is signed in). */
  focus() {
    (this.in.hidden ? this.out : this.in).querySelector('a, button')?.focus();
  }
}
