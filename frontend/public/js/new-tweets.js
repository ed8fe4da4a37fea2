// The "Show N new tweets" button, the count in the page's title while tweets wait, and the
// polite live region that announces the button's arrival (once).
import { newTweetsLabel } from './format.js';

export class NewTweetsView {
  /** @param {object} deps {button, announcer (a polite live region), onShow() (the button's click)} */
  constructor({ button, announcer, onShow }) {
    Object.assign(this, { button, announcer });
    this.baseTitle = document.title;
    // A script's smooth scroll ignores the stylesheet's scroll-behavior: it asks itself.
    this.reducedMotion = matchMedia('(prefers-reduced-motion: reduce)');
    button.addEventListener('click', () => onShow());
  }

  /** show offers count new tweets (`more`: at least that many); 0 takes the button away. */
  show(count, more) {
    if (count === 0) {
      // What the region said is stale once the tweets are shown (and a region emptied says nothing).
      if (!this.button.hidden) this.announcer.textContent = '';
      this.button.hidden = true;
      document.title = this.baseTitle;
      return;
    }
    const label = newTweetsLabel(count, more);
    // The button's arrival is announced, once ("2 new tweets available"). A new count on a button
    // already there is not: on a busy timeline the region would speak at every tweet, over
    // whatever the reader is reading; the button and the title keep the count.
    if (this.button.hidden) this.announcer.textContent = label.replace(/^Show /, '') + ' available';
    this.button.textContent = label;
    this.button.hidden = false;
    document.title = `(${more ? '100+' : count}) ${this.baseTitle}`;
  }

  /** retitle changes the page's title (another view), under the count while tweets wait. */
  retitle(title) {
    this.baseTitle = title;
    if (this.button.hidden) document.title = title;
  }

  /** busy disables the button while the tweets it offers load. */
  busy(on) { this.button.disabled = on; }

  failed(err) { this.announcer.textContent = `Couldn't load new tweets: ${err.message}`; }

  scrollToTop() {
    window.scrollTo({ top: 0, behavior: this.reducedMotion.matches ? 'auto' : 'smooth' });
  }
}
