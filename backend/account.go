package chirp

import (
	"context"
	"crypto/rand"
	"time"
)

// Account is a registered account as the product shows it. Its password hash is never part of
// it (AccountStore.PasswordHash reads it for a sign-in alone).
type Account struct {
	ID int64
	// Handle is the canonical, lower-case handle: two handles that differ only in case are one.
	Handle      string
	DisplayName string
	// UserHandle is the account's WebAuthn user handle, which a passkey carries to name its
	// account at a sign-in. Zero for an account made before passkeys that has not added one
	// (AccountStore.EnsureUserHandle gives it one).
	UserHandle UserHandle
	CreatedAt  time.Time
}

// UserHandle is a WebAuthn user handle: 32 random bytes (WebAuthn allows up to 64), so that it
// tells nothing about the account (WebAuthn §14.6.1), never shown to people. An array rather
// than a slice, so that an Account stays comparable; the zero value is "none".
type UserHandle [32]byte

// NewUserHandle returns a fresh random user handle.
func NewUserHandle() UserHandle {
	var h UserHandle
	rand.Read(h[:]) // never fails: crypto/rand ends the program rather than return an error
	return h
}

// IsZero reports whether h is no handle at all.
func (h UserHandle) IsZero() bool { return h == UserHandle{} }

// NewAccount is what creating an account stores. The handle is already canonical and the
// display name and password hash already checked: the store keeps what it is given.
type NewAccount struct {
	Handle      string
	DisplayName string
	// PasswordHash is the password's hash as a PHC string, or "" for an account without one.
	PasswordHash string
	// UserHandle is the account's WebAuthn user handle (Account.UserHandle): a sign-up with a
	// passkey gives the one its passkey was made with; when zero the store makes one, so that
	// every new account has one.
	UserHandle UserHandle
	// Passkey, when set, is the account's first passkey, stored in the same transaction: an
	// account created with a passkey never exists without it, taking its handle from everyone
	// with no way to sign in. Its AccountID is ignored.
	Passkey *Passkey
}

// Session is a signed-in device of an account. Its token's hash is never part of it: a session
// is found by that hash, and the token itself is never stored.
type Session struct {
	ID         int64
	AccountID  int64
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// Passkey is a WebAuthn credential of an account: what a relying-party library needs to verify
// a sign-in with it and to rebuild its own credential record, kept as plain values so the
// domain depends on no WebAuthn library. The byte fields are the library's as they came (the
// attestation and the extensions serialised by it, opaque here).
type Passkey struct {
	ID           int64
	AccountID    int64
	CredentialID []byte
	PublicKey    []byte
	// AttestationType and AttestationFormat are the attestation's type ("none", "basic_full", …)
	// and statement format ("packed", "tpm", …).
	AttestationType   string
	AttestationFormat string
	// Transports are how the browser may reach the authenticator ("usb", "internal", "hybrid",
	// …), in the order the authenticator gave them.
	Transports []string
	AAGUID     []byte
	SignCount  uint32
	// CloneWarning is set when a sign-in's counter did not grow: the key may have been copied.
	CloneWarning bool
	// Attachment is "platform" or "cross-platform", or "" when the browser did not say.
	Attachment string
	// Flags is the authenticator data's flags byte (WebAuthn's UP, UV, BE and BS bits, as
	// go-webauthn's protocol.AuthenticatorFlags): the library rebuilds its CredentialFlags from
	// this one byte, so the four flags round-trip together.
	Flags       byte
	Attestation []byte
	Extensions  []byte
	CreatedAt   time.Time
	// LastUsedAt is the last sign-in with the passkey; zero before the first.
	LastUsedAt time.Time
}

// The bits of Passkey.Flags the product reads (WebAuthn §6.1, authenticator data).
const (
	passkeyBackupEligible byte = 1 << 3 // BE: the key may be synced to other devices
	passkeyBackupState    byte = 1 << 4 // BS: it is synced (backed up) now
)

// BackupEligible reports whether the passkey may be synced between devices (it never changes).
func (p Passkey) BackupEligible() bool { return p.Flags&passkeyBackupEligible != 0 }

// BackupState reports whether the passkey was synced (backed up) as of its last use.
func (p Passkey) BackupState() bool { return p.Flags&passkeyBackupState != 0 }

// PasskeyUse is what a sign-in with a passkey changes in it, all of which the WebAuthn library
// requires to be written back after every successful sign-in.
type PasskeyUse struct {
	SignCount    uint32
	CloneWarning bool
	Flags        byte
	UsedAt       time.Time
}

// AccountStore keeps accounts, their sessions and their passkeys.
type AccountStore interface {
	// CreateAccount stores a new account (and its first passkey, if any); CodeConflict when the
	// handle is taken, or the passkey is another account's.
	CreateAccount(ctx context.Context, a NewAccount) (Account, error)
	// AccountByHandle finds an account by its canonical handle; CodeNotFound when there is none.
	AccountByHandle(ctx context.Context, handle string) (Account, error)
	// AccountByID finds an account; CodeNotFound when there is none.
	AccountByID(ctx context.Context, id int64) (Account, error)
	// EnsureUserHandle gives the account the WebAuthn user handle fresh unless it has one
	// already, and returns the one it has; CodeNotFound when there is no such account.
	EnsureUserHandle(ctx context.Context, accountID int64, fresh UserHandle) (UserHandle, error)
	// PasswordHash is the account's password hash, or "" when it has no password; CodeNotFound
	// when there is no such account.
	PasswordHash(ctx context.Context, accountID int64) (string, error)
	// SetPasswordHash gives the account a password, or replaces it.
	SetPasswordHash(ctx context.Context, accountID int64, hash string) error
	// ReplacePasswordHash replaces the account's password and ends every session of it but
	// keepSessionID, in one transaction.
	ReplacePasswordHash(ctx context.Context, accountID int64, hash string, keepSessionID int64) error
	// DeleteAccount deletes the account with its sessions, passkeys and tweets, in one
	// transaction, and returns the ids of the deleted tweets for the caller to announce.
	DeleteAccount(ctx context.Context, accountID int64) (deletedTweets []int64, err error)

	// CreateSession starts a session of the account whose token hashes to tokenHash, used now.
	CreateSession(ctx context.Context, accountID int64, tokenHash []byte, now time.Time) (Session, error)
	// SessionByTokenHash finds the session a token opens: CodeNotFound when there is none or it
	// was last used more than maxIdle before now. It records the use.
	SessionByTokenHash(ctx context.Context, tokenHash []byte, now time.Time, maxIdle time.Duration) (Session, error)
	// ListSessions lists the account's live sessions (used within maxIdle of now), newest first.
	ListSessions(ctx context.Context, accountID int64, now time.Time, maxIdle time.Duration) ([]Session, error)
	// DeleteSession ends one of the account's sessions; CodeNotFound when the account has no
	// session with that id (another account's included).
	DeleteSession(ctx context.Context, accountID, sessionID int64) error
	// DeleteOtherSessions ends every session of the account but keepID, and says how many.
	DeleteOtherSessions(ctx context.Context, accountID, keepID int64) (int64, error)
	// PurgeIdleSessions deletes every session (of any account) last used more than maxIdle
	// before now, which SessionByTokenHash no longer opens, and says how many.
	PurgeIdleSessions(ctx context.Context, now time.Time, maxIdle time.Duration) (int64, error)

	// AddPasskey stores a passkey of p.AccountID; CodeConflict when its credential id is
	// registered already.
	AddPasskey(ctx context.Context, p Passkey) (Passkey, error)
	// PasskeysOf lists the account's passkeys, oldest first.
	PasskeysOf(ctx context.Context, accountID int64) ([]Passkey, error)
	// PasskeyByCredentialID finds the passkey a sign-in names; CodeNotFound when there is none.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// UpdateSignCount records a sign-in with the passkey, or with a zero UsedAt an attempt that
	// was refused (its clone warning), leaving its last use as it was.
	UpdateSignCount(ctx context.Context, id int64, u PasskeyUse) error
	// DeletePasskey removes one of the account's passkeys; CodeNotFound when the account has no
	// passkey with that id (another account's included), LastWayIn when the account has no
	// password and no other passkey.
	DeletePasskey(ctx context.Context, accountID, id int64) error
}

// AccountNotFound is the error for an account that does not exist (any more).
func AccountNotFound() *Error { return Errorf(CodeNotFound, "no such account") }

// HandleTaken is the error for a handle another account has.
func HandleTaken(handle string) *Error {
	return Errorf(CodeConflict, "the handle @%s is taken", handle)
}

// SessionNotFound is the error for a session that does not exist, has expired, or is another
// account's.
func SessionNotFound() *Error { return Errorf(CodeNotFound, "no such session") }

// PasskeyNotFound is the error for a passkey that does not exist or is another account's.
func PasskeyNotFound() *Error { return Errorf(CodeNotFound, "no such passkey") }

// LastWayIn is the error for removing an account's last way to sign in.
func LastWayIn() *Error {
	return Errorf(CodeConflict, "this passkey is your last way to sign in: add a password or another passkey first")
}

// PasskeyTaken is the error for a passkey registered already.
func PasskeyTaken() *Error { return Errorf(CodeConflict, "this passkey is registered already") }
