// The browser's side of the passkey ceremonies: the server's options (WebAuthn JSON) turned into
// a credential with navigator.credentials, returned as JSON for the server. The API calls are the
// caller's; no DOM here.

/** passkeysWork says whether this browser can do the ceremonies the page asks for. */
export function passkeysWork(w = globalThis) {
  const pkc = w.PublicKeyCredential;
  return Boolean(pkc && typeof pkc.parseCreationOptionsFromJSON === 'function' &&
    typeof pkc.parseRequestOptionsFromJSON === 'function' && w.navigator?.credentials);
}

/** createPasskey makes a new passkey for the options' publicKey; resolves to its JSON. */
export async function createPasskey(publicKey, w = globalThis) {
  const credential = await w.navigator.credentials.create({
    publicKey: w.PublicKeyCredential.parseCreationOptionsFromJSON(publicKey),
  });
  return credential.toJSON();
}

/** usePasskey asks for a passkey (any of this site's: discoverable) for the options' publicKey; resolves to its JSON. */
export async function usePasskey(publicKey, w = globalThis) {
  const credential = await w.navigator.credentials.get({
    publicKey: w.PublicKeyCredential.parseRequestOptionsFromJSON(publicKey),
  });
  return credential.toJSON();
}

/**
 * passkeyProblem says, in the reader's words, why a ceremony in the browser failed (a
 * DOMException from navigator.credentials), or null for an ApiError (shown as the server says).
 */
export function passkeyProblem(err) {
  switch (err?.name) {
    case 'NotAllowedError': return 'No passkey was used (it was cancelled, or timed out). Try again, or use a password.';
    case 'InvalidStateError': return 'This device already holds a passkey for this account.';
    case 'SecurityError': return 'Passkeys do not work on this address of Chirp. Use a password.';
    case 'NotSupportedError': return 'This device has no passkey that works here. Use a password.';
    default: return err instanceof Error && !('status' in err) ? `The passkey did not work (${err.message}).` : null;
  }
}
