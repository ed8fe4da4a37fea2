// The account dialog: sign out everywhere else, the passkeys (listed, removed, added), and
// deleting the account (confirmed; the server asks for a sign-in within 10 minutes, and the
// dialog offers one). It reports what the reader asks for; the AccountController does it.
import { refusal, openDialog } from './forms.js';
import { passkeyProblem } from './passkeys.js';

const dateOf = (s) => new Date(s).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

export class SettingsDialog {
  /**
   * @param {object} deps {dialog, confirm (the "Delete your account?" dialog), passkeys (whether
   *   this browser can add one), accounts (an AccountController), me() (the account signed in),
   *   onSignInAgain() (opens the sign-in dialog), afterward() (where the focus goes when the
   *   account is gone)}
   */
  constructor({ dialog, confirm, accounts, me, onSignInAgain, afterward }) {
    Object.assign(this, { dialog, confirm, accounts, me, afterward });
    this.list = dialog.querySelector('#passkey-list');
    this.status = dialog.querySelector('.settings-status');
    this.error = dialog.querySelector('.dialog-error');
    this.again = dialog.querySelector('[data-action="signin-again"]');
    dialog.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-action]');
      if (!button || button.getAttribute('aria-disabled') === 'true') return;
      const act = {
        close: () => dialog.close(),
        others: () => this.#do(async () => {
          const n = await accounts.signOutOthers();
          this.status.textContent = n === 1 ? 'Signed out 1 other session.' : `Signed out ${n} other sessions.`;
        }),
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
    this.again.hidden = true;
    this.list.replaceChildren();
    openDialog(this.dialog);
    // The list loads beside whatever the reader does first: it holds no button back.
    this.#showPasskeys().catch((err) => { if (this.dialog.open) this.error.textContent = refusal(err); });
  }

  async #showPasskeys() {
    const keys = await this.accounts.passkeyList();
    const items = keys.map((k, i) => {
      const li = document.createElement('li');
      const what = document.createElement('span');
      what.id = `passkey-${k.id}`;
      what.textContent = `Passkey ${i + 1}, added ${dateOf(k.created_at)}` +
        (k.last_used_at ? `, last used ${dateOf(k.last_used_at)}` : ', never used') + (k.backed_up ? ' (synced)' : '');
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'link danger';
      remove.dataset.action = 'remove';
      remove.dataset.id = String(k.id);
      remove.textContent = 'Remove';
      remove.setAttribute('aria-describedby', what.id);
      li.append(what, remove);
      return li;
    });
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
        if (err.status !== 403) throw err;
        // Only a fresh sign-in may delete: say so, and offer one.
        this.again.hidden = false;
        this.again.focus();
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

  /** #do runs one ask at a time, showing its failure in the dialog's alert. */
  async #do(ask) {
    if (this.dialog.getAttribute('aria-busy') === 'true') return;
    this.dialog.setAttribute('aria-busy', 'true');
    this.error.textContent = '';
    try {
      await ask();
    } catch (err) {
      if (this.dialog.open) this.error.textContent = passkeyProblem(err) ?? refusal(err);
    } finally {
      this.dialog.removeAttribute('aria-busy');
    }
  }
}
