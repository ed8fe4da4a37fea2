// The sign-in and sign-up dialogs: the passkey first, the password as the other way. They check
// only that what is needed is there, report what the reader asks for (the AccountController does
// it), and show how it went: a problem at its field, anything else in the dialog's alert.
import { fieldProblems, refusal, showProblems, openDialog } from './forms.js';
import { passkeyProblem } from './passkeys.js';

class AccountDialog {
  /** @param {object} deps {dialog, passkeys (whether this browser can use them), afterward() (where the focus goes once signed in)} */
  constructor({ dialog, passkeys, afterward }) {
    Object.assign(this, { dialog, afterward });
    this.form = dialog.querySelector('form');
    this.error = dialog.querySelector('.dialog-error');
    this.busy = false;
    // Without passkeys here (an old browser, an address that is not a secure context) the
    // password is the only way, and the page says nothing of passkeys.
    for (const part of dialog.querySelectorAll('.passkey-part')) part.hidden = !passkeys;
    dialog.querySelector('.other-way').hidden = !passkeys;
    dialog.querySelector('[data-action="close"]').addEventListener('click', () => dialog.close());
  }

  open() {
    this.#reset();
    openDialog(this.dialog);
  }

  #reset() {
    this.form.reset();
    showProblems(this.form, {});
    this.error.textContent = '';
  }

  /**
   * run does one ask (at most one at a time): the dialog closes when it succeeds; otherwise
   * problems show at the fields named, or in the alert.
   */
  async run(ask, fields) {
    if (this.busy) return;
    this.busy = true;
    this.error.textContent = '';
    this.dialog.setAttribute('aria-busy', 'true');
    try {
      await ask();
      this.dialog.close();
      this.afterward();
    } catch (err) {
      const atFields = fieldProblems(err, fields);
      if (!showProblems(this.form, atFields)) this.error.textContent = passkeyProblem(err) ?? refusal(err);
    } finally {
      this.busy = false;
      this.dialog.removeAttribute('aria-busy');
    }
  }

  /** missing shows "… is required" at each blank field of names; true when one was. */
  missing(labels) {
    const problems = {};
    for (const [name, label] of Object.entries(labels)) {
      if (this.form.elements[name].value.trim() === '') problems[name] = `${label} is required.`;
    }
    this.error.textContent = '';
    return showProblems(this.form, problems);
  }
}

export class SignInDialog extends AccountDialog {
  /** @param {object} deps AccountDialog's, and onPasskey(), onPassword(handle, password) (resolve once signed in; reject with an ApiError or a DOMException)} */
  constructor({ onPasskey, onPassword, ...deps }) {
    super(deps);
    this.dialog.querySelector('[data-action="passkey"]').addEventListener('click', () => this.run(onPasskey, []));
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (this.missing({ handle: 'Handle', password: 'Password' })) return;
      const { handle, password } = this.form.elements;
      this.run(() => onPassword(handle.value.trim(), password.value), ['handle', 'password']);
    });
  }
}

export class SignUpDialog extends AccountDialog {
  /** @param {object} deps AccountDialog's, and onPasskey(handle, displayName), onPassword(handle, displayName, password) */
  constructor({ onPasskey, onPassword, ...deps }) {
    super(deps);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const { handle, display_name: name, password } = this.form.elements;
      const fields = ['handle', 'display_name', 'password'];
      // Enter in the password field means the password, whichever button is the form's first.
      if (e.submitter?.dataset.way === 'passkey' && document.activeElement !== password) {
        if (this.missing({ handle: 'Handle', display_name: 'Display name' })) return;
        this.run(() => onPasskey(handle.value.trim(), name.value), fields);
      } else {
        if (this.missing({ handle: 'Handle', display_name: 'Display name', password: 'Password' })) return;
        this.run(() => onPassword(handle.value.trim(), name.value, password.value), fields);
      }
    });
  }
}
