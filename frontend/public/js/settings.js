// The account dialog: the signed-in devices (each signed out on its own, or all others at
// once), the password (added, or changed), the passkeys (listed, removed, added), and deleting
// the account (confirmed). Changing a password and deleting the account need a sign-in within
// 10 minutes: the server's 403 is explained and "Sign in again" offered beside what was asked.
// It reports what the reader asks for; the AccountController does it.
import { fieldProblems, refusal, showProblems, openDialog, listRow } from './forms.js';
import { passkeyProblem } from './passkeys.js';
import { describeDevices, afterRemoval, drawDevices } from './devices.js';

/** passwordWords are the password part's words for an account with a password or without (passkeys only). */
export function passwordWords(hasPassword) {
  return hasPassword
    ? { about: 'You can sign in with your password.', submit: 'Change password', done: 'Password changed. Your other devices are signed out.' }
    : { about: 'You sign in with passkeys only. A password is another way in.', submit: 'Add a password', done: 'Password added.' };
}

const dateOf = (s) => new Date(s).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

export class SettingsDialog {
  /**
   * @param {object} deps {dialog, confirm (the "Delete your account?" dialog), passkeys (whether
   *   this browser can add one), accounts (an AccountController), me() (the account signed in, as kept),
   *   onSignInAgain() (opens the sign-in dialog), afterward() (where the focus goes when the
   *   account is gone)}
   */
  constructor({ dialog, confirm, accounts, me, onSignInAgain, afterward }) {
    Object.assign(this, { dialog, confirm, accounts, me, afterward });
    this.list = dialog.querySelector('#passkey-list');
    this.devices = dialog.querySelector('#device-list');
    this.password = dialog.querySelector('form[data-form="password"]');
    this.status = dialog.querySelector('.settings-status');
    this.error = dialog.querySelector('.dialog-error');
    this.agains = dialog.querySelectorAll('[data-action="signin-again"]');
    this.password.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#setPassword();
    });
    dialog.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-action]');
      if (!button || button.getAttribute('aria-disabled') === 'true') return;
      const act = {
        close: () => dialog.close(),
        others: () => this.#do(async () => {
          try {
            const n = await accounts.signOutOthers();
            this.status.textContent = n === 1 ? 'Signed out 1 other session.' : `Signed out ${n} other sessions.`;
          } finally {
            await this.#showDevices();
          }
        }),
        'end-session': () => this.#endSession(button),
        'add-passkey': () => this.#do(async () => {
          await accounts.addPasskey();
          this.status.textContent = 'Passkey added.';
          await this.#showPasskeys();
        }),
        remove: () => this.#do(async () => {
          await accounts.removePasskey(Number(button.dataset.id));
          this.status.textContent = 'Passkey removed.';
          await this.#showPasskeys();
          dialog.querySelector('[data-action="add-passkey"]:not([hidden])')?.focus();
        }),
        'delete-account': () => this.#deleteAccount(),
        'signin-again': () => { dialog.close(); onSignInAgain(); },
      }[button.dataset.action];
      act?.();
    });
  }

  open() {
    const me = this.me();
    this.dialog.querySelector('#settings-who').textContent = `${me.display_name} (@${me.handle})`;
    this.status.textContent = '';
    this.error.textContent = '';
    for (const b of this.agains) b.hidden = true;
    this.list.replaceChildren();
    this.devices.replaceChildren();
    // A password manager saves the new password under the handle this field names.
    this.password.querySelector('#password-handle').setAttribute('value', me.handle);
    this.password.reset();
    showProblems(this.password, {});
    this.#passwordIs(me.has_password);
    openDialog(this.dialog);
    // The lists load beside whatever the reader does first: they hold no button back. The
    // password part waits for /api/me to say whether there is one (a sign-in's answer does not).
    const load = (show) => show().catch((err) => { if (this.dialog.open) this.error.textContent = refusal(err); });
    load(() => this.#showDevices());
    load(() => this.#showPasskeys());
    load(async () => this.#passwordIs((await this.accounts.account()).has_password));
  }

  async #showDevices() {
    drawDevices(this.devices, describeDevices(await this.accounts.deviceList()));
  }

  /** #endSession signs out another device; the focus goes to the next device's button, else to "Sign out everywhere else". */
  async #endSession(button) {
    const buttons = [...this.devices.querySelectorAll('[data-action="end-session"]')];
    const next = afterRemoval(buttons.map((b) => b.dataset.id), buttons.indexOf(button));
    await this.#do(async () => {
      try {
        await this.accounts.endSession(Number(button.dataset.id));
        this.status.textContent = 'Signed out that device.';
      } finally {
        // Gone already (signed out from there) or not: the list says how it is now.
        await this.#showDevices();
      }
    });
    if (button.isConnected) return; // still listed: it failed, and the focus stays on it
    const target = (next && this.devices.querySelector(`[data-action="end-session"][data-id="${next}"]`)) ??
      this.dialog.querySelector('[data-action="others"]');
    target.focus();
  }

  /** #passwordIs shows the password part for an account with a password, or without; undefined: not known yet. */
  #passwordIs(hasPassword) {
    const known = typeof hasPassword === 'boolean';
    this.password.hidden = !known;
    if (!known) return;
    const words = passwordWords(hasPassword);
    this.dialog.querySelector('#password-about').textContent = words.about;
    this.password.querySelector('button[type="submit"]').textContent = words.submit;
    this.hasPassword = hasPassword;
  }

  #setPassword() {
    const field = this.password.elements.password;
    if (field.value === '') {
      showProblems(this.password, { password: 'Password is required.' });
      return;
    }
    const { done } = passwordWords(this.hasPassword);
    this.#do(async () => {
      try {
        await this.accounts.setPassword(field.value);
      } catch (err) {
        if (showProblems(this.password, fieldProblems(err, ['password']))) return;
        if (err.status === 403) this.#offerSignIn(this.password);
        throw err;
      }
      showProblems(this.password, {});
      this.password.reset();
      this.#passwordIs(true);
      this.status.textContent = done;
    });
  }

  /** #offerSignIn shows the "Sign in again" of within and gives it the focus: only a fresh sign-in may do what was asked. */
  #offerSignIn(within) {
    const again = within.querySelector('[data-action="signin-again"]');
    again.hidden = false;
    again.focus();
  }

  async #showPasskeys() {
    const keys = await this.accounts.passkeyList();
    const items = keys.map((k, i) => listRow({
      id: `passkey-${k.id}`,
      text: `Passkey ${i + 1}, added ${dateOf(k.created_at)}` +
        (k.last_used_at ? `, last used ${dateOf(k.last_used_at)}` : ', never used') + (k.backed_up ? ' (synced)' : ''),
      action: 'remove',
      label: 'Remove',
      dataId: String(k.id),
    }));
    if (items.length === 0) {
      const li = document.createElement('li');
      li.textContent = 'No passkeys yet.';
      items.push(li);
    }
    this.list.replaceChildren(...items);
  }

  async #deleteAccount() {
    if (!(await this.#confirmed())) return;
    await this.#do(async () => {
      try {
        await this.accounts.deleteAccount();
      } catch (err) {
        if (err.status === 403) this.#offerSignIn(this.dialog.querySelector('#danger-section'));
        throw err;
      }
      this.dialog.close();
      this.afterward();
    });
  }

  #confirmed() {
    return new Promise((resolve) => {
      this.confirm.returnValue = '';
      openDialog(this.confirm);
      this.confirm.addEventListener('close', () => resolve(this.confirm.returnValue === 'delete'), { once: true });
    });
  }

  /** #do runs one ask at a time, showing its failure in the dialog's alert (and no older success beside it). */
  async #do(ask) {
    if (this.dialog.getAttribute('aria-busy') === 'true') return;
    this.dialog.setAttribute('aria-busy', 'true');
    this.error.textContent = '';
    this.status.textContent = '';
    try {
      await ask();
    } catch (err) {
      if (this.dialog.open) this.error.textContent = passkeyProblem(err) ?? refusal(err);
    } finally {
      this.dialog.removeAttribute('aria-busy');
    }
  }
}
