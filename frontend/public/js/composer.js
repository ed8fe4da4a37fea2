// The composer: name and text, the live count, and posting (with an idempotency key kept
// across retries of the same post). The name and an unsent draft survive reloads.
import { cleanText, textProblem, charactersLeft, MAX_CONTENT, MAX_AUTHOR } from './format.js';

const NAME = 'chirp.name';
const DRAFT = 'chirp.draft';
const DRAFT_KEY = 'chirp.draftKey';

const PROBLEMS = {
  empty: 'is empty',
  too_long: 'is too long',
  control: 'has characters that cannot be posted',
  surrogate: 'has a broken character (half of a surrogate pair)',
};

export class Composer {
  constructor({ form, api, storage = globalThis.localStorage, onPosted }) {
    this.form = form;
    this.api = api;
    this.storage = storage;
    this.onPosted = onPosted;
    this.name = form.querySelector('#name');
    this.text = form.querySelector('#content');
    this.counter = form.querySelector('#counter');
    this.error = form.querySelector('#compose-error');
    this.button = form.querySelector('button[type="submit"]');
    this.sending = false;

    this.name.value = storage.getItem(NAME) ?? '';
    this.text.value = storage.getItem(DRAFT) ?? '';
    this.name.addEventListener('input', () => { storage.setItem(NAME, this.name.value); this.update(); });
    this.text.addEventListener('input', () => {
      storage.setItem(DRAFT, this.text.value);
      this.update();
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
    this.text.setAttribute('aria-invalid', String(left < 0));
    const content = textProblem(cleanText(this.text.value), MAX_CONTENT, true);
    const author = textProblem(cleanText(this.name.value), MAX_AUTHOR, false);
    this.button.disabled = this.sending || content !== '' || author !== '';
    this.button.title = content === 'empty' ? 'Write something first'
      : content ? `The text ${PROBLEMS[content]}`
      : author ? `The name ${PROBLEMS[author]}` : '';
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
    if (this.button.disabled) return;
    this.sending = true;
    this.update();
    this.button.textContent = 'Posting…';
    this.error.textContent = '';
    try {
      const tweet = await this.api.create(this.name.value, this.text.value, this.#key());
      this.text.value = '';
      this.storage.removeItem(DRAFT);
      this.storage.removeItem(DRAFT_KEY);
      this.onPosted(tweet);
    } catch (err) {
      this.error.textContent = describe(err);
    } finally {
      this.sending = false;
      this.button.textContent = 'Post';
      this.update();
    }
  }
}

function describe(err) {
  if (err.status === 422 && err.fields) {
    const parts = Object.entries(err.fields).map(([field, problem]) => `${field === 'author' ? 'Name' : 'Text'} ${problem}.`);
    if (parts.length) return parts.join(' ');
  }
  if (err.status === 429) return 'You are posting too fast. Wait a moment and try again.';
  if (err.status >= 500) return `Chirp could not save your tweet (${err.message}) Your text is kept; try again.`;
  return err.message;
}
