// The composer: name and text, the live count, what is wrong with each field, and asking to post
// (with an idempotency key kept across retries of the same post), then how that went. The name
// and an unsent draft survive reloads. Signed in, there is no name: the account posts
// (`showAccount`); signed out where the server takes no guest posts, "Sign in to post" stands in
// its place.
import { cleanText, textProblem, fieldMessage, charactersLeft, MAX_CONTENT, MAX_AUTHOR } from './format.js';

const NAME = 'chirp.name';
const DRAFT = 'chirp.draft';
const DRAFT_KEY = 'chirp.draftKey';

export class Composer {
  /**
   * @param {object} deps {form, signInFirst (what stands in the form's place when only accounts
   *   may post), storage, onPost(author, content, idempotencyKey) (posts and shows the tweet;
   *   resolves to it, or rejects with an ApiError)}
   */
  constructor({ form, signInFirst, storage = globalThis.localStorage, onPost }) {
    this.form = form;
    this.signInFirst = signInFirst;
    this.storage = storage;
    this.onPost = onPost;
    this.account = null; // the account posting, or null for a guest
    this.name = form.querySelector('#name');
    this.nameField = form.querySelector('#name-field');
    this.postingAs = form.querySelector('#posting-as');
    this.text = form.querySelector('#content');
    this.counter = form.querySelector('#counter');
    this.error = form.querySelector('#compose-error');
    this.button = form.querySelector('button[type="submit"]');
    this.nameProblem = form.querySelector('#name-problem');
    this.textProblem = form.querySelector('#content-problem');
    this.sending = false;
    // A blank field is the composer's resting state, not a mistake: a blank name says so once
    // the person has typed in either field (writing a tweet with no name is why Post stays
    // disabled) or tried to post; a blank text only once they tried to post it. Every other
    // problem shows as soon as it is there.
    this.typed = false;
    this.tried = false;
    this.offline = false; // the error shown is a failure to reach Chirp

    this.name.value = storage.getItem(NAME) ?? '';
    this.text.value = storage.getItem(DRAFT) ?? '';
    this.name.addEventListener('input', () => {
      storage.setItem(NAME, this.name.value);
      this.typed = true;
      this.update();
    });
    this.text.addEventListener('input', () => {
      storage.setItem(DRAFT, this.text.value);
      this.typed = true;
      this.update();
    });
    // Enter in the name submits the form, except while Post is disabled: then it is a try.
    this.name.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && this.button.disabled && !this.sending) this.#tried();
    });
    this.text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    this.update();
  }

  update() {
    const left = charactersLeft(this.text.value);
    this.counter.textContent = String(left);
    this.counter.classList.toggle('over', left < 0);
    this.counter.classList.toggle('near', left >= 0 && left <= 20);
    const text = this.#check(this.text, this.textProblem, 'text', MAX_CONTENT, true, this.tried);
    const name = this.account ? '' : this.#check(this.name, this.nameProblem, 'name', MAX_AUTHOR, false, this.typed || this.tried);
    this.button.disabled = this.sending || text !== '' || name !== '';
  }

  /** #check shows a field's problem under it (a blank one only when `blankShows`); returns it. */
  #check(field, message, name, max, multiline, blankShows) {
    const clean = cleanText(field.value);
    const problem = textProblem(clean, max, multiline);
    const shown = problem !== '' && (clean !== '' || blankShows) ? fieldMessage(name, problem, clean) : '';
    if (message.textContent !== shown) message.textContent = shown;
    field.setAttribute('aria-invalid', String(shown !== ''));
    return problem;
  }

  /**
   * showAccount shows who posts: `account` (the signed-in one, or null) and, signed out,
   * whether the server takes guest posts (else "Sign in to post" in the form's place).
   */
  showAccount(account, guestPosts) {
    this.account = account;
    this.nameField.hidden = Boolean(account);
    this.postingAs.hidden = !account;
    this.postingAs.textContent = account ? `Posting as @${account.handle}` : '';
    const closed = !account && !guestPosts;
    if (closed && this.form.contains(document.activeElement)) this.signInFirst.querySelector('button')?.focus();
    this.form.hidden = closed;
    this.signInFirst.hidden = !closed;
    this.update();
  }

  #tried() {
    this.tried = true;
    this.update();
  }

  /** The same post, retried, keeps its key so the server can recognise it. */
  #key() {
    let key = this.storage.getItem(DRAFT_KEY);
    if (!key) {
      const b = crypto.getRandomValues(new Uint8Array(16));
      key = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
      this.storage.setItem(DRAFT_KEY, key);
    }
    return key;
  }

  async submit() {
    if (this.button.disabled) {
      if (!this.sending) this.#tried();
      return;
    }
    // Post is disabled while it sends, and a focused button that is disabled drops the focus
    // to the document; it is put back where the person acts next (below).
    const focusWas = document.activeElement;
    let posted = false;
    this.sending = true;
    this.update();
    this.button.textContent = 'Posting…';
    this.error.textContent = '';
    try {
      await this.onPost(this.account ? this.account.display_name : this.name.value, this.text.value, this.#key());
      this.text.value = '';
      this.storage.removeItem(DRAFT);
      this.storage.removeItem(DRAFT_KEY);
      this.tried = false;
      posted = true;
    } catch (err) {
      // The key was used for another text: an earlier try of this draft was stored but its
      // answer never came, and the text changed since. That tweet stays (it shows with the
      // new ones); this text gets a new key, and is posted only when the person posts again:
      // posting it on their behalf would publish a second tweet they may not want.
      if (keyReused(err)) this.storage.removeItem(DRAFT_KEY);
      this.error.textContent = describe(err);
      this.offline = err.status === 0;
    } finally {
      this.sending = false;
      this.button.textContent = 'Post';
      this.update();
      this.#refocus(posted, focusWas);
    }
  }

  /** connectionBack takes away a failure to reach Chirp, now stale; the text is still there. */
  connectionBack() {
    if (this.offline) this.error.textContent = '';
    this.offline = false;
  }

  /**
   * #refocus: after a post, the text field, for the next tweet; after a failure, where the
   * focus was (Post, to try again). Never away from where the person moved it meanwhile.
   */
  #refocus(posted, focusWas) {
    const now = document.activeElement;
    const lost = !now || now === document.body;
    if (posted && (lost || this.form.contains(now))) this.text.focus();
    else if (!posted && lost && this.form.contains(focusWas)) focusWas.focus();
  }
}

function keyReused(err) {
  return err.status === 422 && Object.hasOwn(err.fields ?? {}, 'Idempotency-Key');
}

function describe(err) {
  if (keyReused(err)) {
    return 'An earlier try of this tweet, with other text, was posted (its answer never reached this page). Post again to post this text as well.';
  }
  if (err.status === 422 && err.fields) {
    const parts = Object.entries(err.fields).map(([field, problem]) => `${field === 'author' ? 'Name' : 'Text'} ${problem}.`);
    if (parts.length) return parts.join(' ');
  }
  if (err.status === 401) return 'You are signed out: sign in to post. Your text is kept.';
  if (err.status === 429) {
    return err.retryAfter ? `Too many posts — try again in ${err.retryAfter} s.` : 'Too many posts — wait a moment and try again.';
  }
  if (err.status >= 500) return `Chirp could not save your tweet (${err.message}) Your text is kept; try again.`;
  return err.message;
}
