// Which list the page shows, and what surrounds it: the timeline with the composer, or an
// account's profile (its name and @handle above its tweets, a link back), or "No such account".
// It draws; main.js's router decides.

export class ProfileView {
  /** @param {object} deps {profile, missing (the "No such account" notice), composer (the form and what stands in its place), feedTitle, empty (the empty list's notice)} */
  constructor({ profile, missing, composerParts, feedTitle, empty }) {
    Object.assign(this, { profile, missing, composerParts, feedTitle, empty, feed: feedTitle.closest('section') });
    this.emptyText = empty.textContent;
    this.baseTitle = document.title;
  }

  /** timeline shows the timeline's surroundings. */
  timeline() {
    this.profile.hidden = true;
    this.missing.hidden = true;
    this.feed.hidden = false;
    for (const part of this.composerParts) part.classList.remove('off-view');
    this.feedTitle.textContent = 'Timeline';
    this.empty.textContent = this.emptyText;
    return this.baseTitle;
  }

  /** loading shows a profile's place while its account is asked for. */
  loading(handle) {
    this.#leaveTimeline();
    this.profile.hidden = false;
    this.missing.hidden = true;
    this.feed.hidden = true;
    this.profile.querySelector('#profile-name').textContent = `@${handle}`;
    this.profile.querySelector('#profile-handle').textContent = '';
  }

  /** account shows the account's name and handle above its tweets; returns the page's title. */
  account(a) {
    this.profile.querySelector('#profile-name').textContent = a.display_name;
    this.profile.querySelector('#profile-handle').textContent = `@${a.handle}`;
    this.feed.hidden = false;
    this.feedTitle.textContent = `Tweets by @${a.handle}`;
    this.empty.textContent = `@${a.handle} has not posted yet.`;
    return `${a.display_name} (@${a.handle}) · ${this.baseTitle}`;
  }

  /** noSuchAccount says so politely (or why the account could not be read). */
  noSuchAccount(handle, err) {
    this.#leaveTimeline();
    this.profile.hidden = true;
    this.feed.hidden = true;
    this.missing.hidden = false;
    this.missing.querySelector('p').textContent = err?.status === 404 || !err
      ? `Nobody has the handle @${handle}. It may have been deleted, or mistyped.`
      : `Couldn't load @${handle}: ${err.message}`;
    this.missing.querySelector('h2').textContent = err?.status === 404 || !err ? 'No such account' : 'Account unavailable';
    return `No such account · ${this.baseTitle}`;
  }

  /** focus puts the focus on the view's heading, as a new page would have it. */
  focus() {
    const heading = !this.missing.hidden ? this.missing.querySelector('h2') : this.profile.querySelector('#profile-name');
    if (!this.profile.hidden || !this.missing.hidden) heading.focus();
  }

  #leaveTimeline() {
    for (const part of this.composerParts) part.classList.add('off-view');
  }
}
