// The connection's state in the header's status region: hidden and empty while online.

/** connectionStatus returns the function that shows a state ('online' or 'reconnecting') in el. */
export function connectionStatus(el) {
  return (state) => {
    el.hidden = state === 'online';
    el.textContent = state === 'online' ? '' : 'Reconnecting…';
  };
}
