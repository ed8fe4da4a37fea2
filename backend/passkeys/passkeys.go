// Package passkeys is Chirp's WebAuthn relying party: the ceremonies that make an account with
// a passkey, sign in with one (discoverable credentials: no handle typed), and add one to an
// account, over github.com/go-webauthn/webauthn. A ceremony's state is kept in the database
// between its two steps (chirp.CeremonyStore), so that any process may finish it
// (docs/passkeys.md).
package passkeys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/chirp-social/chirp/backend"
)

// The ceremonies' purposes, as stored with them.
const (
	purposeSignUp = "signup"
	purposeSignIn = "signin"
	purposeAdd    = "add"
)

// RelyingParty runs the passkey ceremonies.
type RelyingParty struct {
	cfg        Config
	wa         *webauthn.WebAuthn
	accounts   chirp.AccountStore
	ceremonies chirp.CeremonyStore
	now        func() time.Time
}

// Option configures New.
type Option func(*RelyingParty)

// WithClock makes the relying party read the time from now (tests: a ceremony's expiry).
func WithClock(now func() time.Time) Option { return func(rp *RelyingParty) { rp.now = now } }

// New checks the configuration and makes the relying party.
func New(cfg Config, accounts chirp.AccountStore, ceremonies chirp.CeremonyStore, opts ...Option) (*RelyingParty, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPDisplayName,
		RPOrigins:     cfg.Origins,
		// No attestation: Chirp trusts any authenticator, and asking would only add a
		// privacy prompt in some browsers.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			// Discoverable: the passkey itself names the account at sign-in.
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		// The browser's timeout; the server's is chirp.CeremonyLifetime, in the store.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: chirp.CeremonyLifetime, TimeoutUVD: chirp.CeremonyLifetime},
			Registration: webauthn.TimeoutConfig{Timeout: chirp.CeremonyLifetime, TimeoutUVD: chirp.CeremonyLifetime},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	rp := &RelyingParty{cfg: cfg, wa: wa, accounts: accounts, ceremonies: ceremonies, now: time.Now}
	for _, o := range opts {
		o(rp)
	}
	return rp, nil
}

// Options is a ceremony's first step: the id the page sends back with its credential, and the
// options it gives the browser (PublicKeyCredential.parseCreationOptionsFromJSON or
// parseRequestOptionsFromJSON).
type Options struct {
	Ceremony  string          `json:"ceremony"`
	PublicKey json.RawMessage `json:"publicKey"`
}

// state is what a ceremony keeps between its steps.
type state struct {
	Session webauthn.SessionData `json:"session"`
	// For a sign-up: the account it will make.
	Handle      string           `json:"handle,omitempty"`
	DisplayName string           `json:"display_name,omitempty"`
	UserHandle  chirp.UserHandle `json:"user_handle,omitzero"`
}

// BeginSignUp starts making an account with a passkey. The handle must be canonical and the
// display name checked (as for chirp.NewAccount); a taken handle is refused now, to spare
// the user the authenticator's prompt, and again when the account is made.
func (rp *RelyingParty) BeginSignUp(ctx context.Context, handle, displayName string) (Options, error) {
	switch _, err := rp.accounts.AccountByHandle(ctx, handle); {
	case err == nil:
		return Options{}, chirp.HandleTaken(handle)
	case chirp.ErrorCode(err) != chirp.CodeNotFound:
		return Options{}, err
	}
	u := &user{handle: chirp.NewUserHandle(), name: handle, displayName: displayName}
	creation, session, err := rp.wa.BeginRegistration(u, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		return Options{}, fmt.Errorf("begin sign-up: %w", err)
	}
	st := state{Session: *session, Handle: handle, DisplayName: displayName, UserHandle: u.handle}
	return rp.begin(ctx, purposeSignUp, 0, st, creation.Response)
}

// FinishSignUp verifies the new passkey and makes the account with it, in one transaction.
func (rp *RelyingParty) FinishSignUp(ctx context.Context, ceremony string, credential []byte) (chirp.Account, error) {
	st, err := rp.take(ctx, ceremony, purposeSignUp, 0)
	if err != nil {
		return chirp.Account{}, err
	}
	u := &user{handle: st.UserHandle, name: st.Handle, displayName: st.DisplayName}
	p, err := rp.register(u, st.Session, credential)
	if err != nil {
		return chirp.Account{}, err
	}
	return rp.accounts.CreateAccount(ctx, chirp.NewAccount{
		Handle: st.Handle, DisplayName: st.DisplayName, UserHandle: st.UserHandle, Passkey: &p})
}

// BeginAdd starts adding a passkey to a signed-in account. The account's passkeys are
// excluded, so that an authenticator holding one says so instead of making a second. An
// account made before passkeys gets its user handle now.
func (rp *RelyingParty) BeginAdd(ctx context.Context, accountID int64) (Options, error) {
	a, err := rp.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return Options{}, err
	}
	if a.UserHandle.IsZero() {
		if a.UserHandle, err = rp.accounts.EnsureUserHandle(ctx, a.ID, chirp.NewUserHandle()); err != nil {
			return Options{}, err
		}
	}
	own, err := rp.accounts.PasskeysOf(ctx, a.ID)
	if err != nil {
		return Options{}, err
	}
	exclude := make([]protocol.CredentialDescriptor, len(own))
	for i, p := range own {
		exclude[i] = protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: p.CredentialID}
		for _, t := range p.Transports {
			exclude[i].Transport = append(exclude[i].Transport, protocol.AuthenticatorTransport(t))
		}
	}
	u := &user{handle: a.UserHandle, name: a.Handle, displayName: a.DisplayName}
	creation, session, err := rp.wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired), webauthn.WithExclusions(exclude))
	if err != nil {
		return Options{}, fmt.Errorf("begin adding a passkey: %w", err)
	}
	return rp.begin(ctx, purposeAdd, a.ID, state{Session: *session}, creation.Response)
}

// FinishAdd verifies the new passkey and adds it to the account, which must be the one the
// ceremony began for.
func (rp *RelyingParty) FinishAdd(ctx context.Context, accountID int64, ceremony string, credential []byte) (chirp.Passkey, error) {
	st, err := rp.take(ctx, ceremony, purposeAdd, accountID)
	if err != nil {
		return chirp.Passkey{}, err
	}
	a, err := rp.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return chirp.Passkey{}, err
	}
	p, err := rp.register(&user{handle: a.UserHandle, name: a.Handle, displayName: a.DisplayName}, st.Session, credential)
	if err != nil {
		return chirp.Passkey{}, err
	}
	p.AccountID = a.ID
	return rp.accounts.AddPasskey(ctx, p)
}

// BeginSignIn starts a sign-in with whatever passkey of this site the user picks: no
// allowCredentials, so the browser offers every discoverable one.
func (rp *RelyingParty) BeginSignIn(ctx context.Context) (Options, error) {
	assertion, session, err := rp.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return Options{}, fmt.Errorf("begin sign-in: %w", err)
	}
	return rp.begin(ctx, purposeSignIn, 0, state{Session: *session}, assertion.Response)
}

// CannotSignIn is the answer to a passkey that is unknown here or whose answer does not
// verify: one answer for both, so that it tells nothing about which passkeys exist.
func CannotSignIn() *chirp.Error {
	return chirp.Errorf(chirp.CodeUnauthorized, "this passkey cannot sign in")
}

// errCounterWentBack is the refusal of a passkey whose signature counter did not grow.
func errCounterWentBack() *chirp.Error {
	return chirp.Errorf(chirp.CodeUnauthorized,
		"this passkey cannot sign in: its signature counter went backwards, as when a key has been copied; sign in another way and remove it")
}

// FinishSignIn verifies the passkey's signature and returns the account it signs in, after
// recording the use (counter, flags) as the library requires.
//
// A counter that did not grow (the library's clone warning) refuses the sign-in and marks the
// passkey: either the key was copied and the copy signed past the original, or this answer is
// the copy's. The key can prove nothing either way, and the account has other ways in (a
// password, another passkey); a sign-in with a larger counter later succeeds again, and the
// mark stays for the owner to see. Synced passkeys report no counter (always 0) and are never
// refused for it.
func (rp *RelyingParty) FinishSignIn(ctx context.Context, ceremony string, credential []byte) (chirp.Account, error) {
	st, err := rp.take(ctx, ceremony, purposeSignIn, 0)
	if err != nil {
		return chirp.Account{}, err
	}
	parsed, err := rp.parseAssertion(credential)
	if err != nil {
		return chirp.Account{}, err
	}
	var (
		stored   chirp.Passkey
		account  chirp.Account
		storeErr error // a failure of the store, which must not pass for a bad passkey
	)
	find := func(rawID, userHandle []byte) (webauthn.User, error) {
		if stored, storeErr = rp.accounts.PasskeyByCredentialID(ctx, rawID); storeErr != nil {
			return nil, storeErr
		}
		if account, storeErr = rp.accounts.AccountByID(ctx, stored.AccountID); storeErr != nil {
			return nil, storeErr
		}
		c, err := credentialOf(stored)
		if err != nil {
			storeErr = err
			return nil, err
		}
		if !bytes.Equal(userHandle, account.UserHandle[:]) {
			return nil, errors.New("the user handle is not the passkey's account's")
		}
		return &user{handle: account.UserHandle, name: account.Handle, displayName: account.DisplayName,
			credentials: []webauthn.Credential{c}}, nil
	}
	_, verified, err := rp.wa.ValidatePasskeyLogin(find, st.Session, parsed)
	if storeErr != nil && chirp.ErrorCode(storeErr) != chirp.CodeNotFound {
		return chirp.Account{}, fmt.Errorf("sign in with a passkey: %w", storeErr)
	}
	if err != nil {
		return chirp.Account{}, &chirp.Error{Code: chirp.CodeUnauthorized, Message: CannotSignIn().Message, Cause: err}
	}
	counter := parsed.Response.AuthenticatorData.Counter
	if counter <= stored.SignCount && (counter != 0 || stored.SignCount != 0) {
		// The library's clone warning. Only the mark is recorded: the counter and flags of an
		// answer that is refused are not to be trusted, and the last use stays as it was.
		refused := chirp.PasskeyUse{SignCount: stored.SignCount, CloneWarning: true, Flags: stored.Flags}
		if err := rp.accounts.UpdateSignCount(ctx, stored.ID, refused); err != nil {
			return chirp.Account{}, err
		}
		return chirp.Account{}, errCounterWentBack()
	}
	use := chirp.PasskeyUse{
		SignCount:    verified.Authenticator.SignCount,
		CloneWarning: verified.Authenticator.CloneWarning,
		Flags:        byte(verified.Flags.ProtocolValue()),
		UsedAt:       rp.now(),
	}
	if err := rp.accounts.UpdateSignCount(ctx, stored.ID, use); err != nil {
		return chirp.Account{}, err
	}
	return account, nil
}

// begin stores a ceremony's state under a fresh id, and returns the id and the options.
func (rp *RelyingParty) begin(ctx context.Context, purpose string, accountID int64, st state, publicKey any) (Options, error) {
	options, err := json.Marshal(publicKey)
	if err != nil {
		return Options{}, fmt.Errorf("encode the ceremony's options: %w", err)
	}
	saved, err := json.Marshal(st)
	if err != nil {
		return Options{}, fmt.Errorf("encode the ceremony's state: %w", err)
	}
	// The id is built as every secret token here is: 256 random bits, stored as their SHA-256.
	id, hash, err := chirp.NewEditToken()
	if err != nil {
		return Options{}, err
	}
	err = rp.ceremonies.SaveCeremony(ctx, hash, chirp.Ceremony{
		Purpose: purpose, AccountID: accountID, State: saved, ExpiresAt: rp.now().Add(chirp.CeremonyLifetime)})
	if err != nil {
		return Options{}, err
	}
	return Options{Ceremony: id, PublicKey: options}, nil
}

// ceremonyIDLength is the length of a ceremony id: 32 bytes in unpadded base64url.
const ceremonyIDLength = 43

// take finds and ends the ceremony the id names, which must be for purpose (and accountID).
// It is ended whatever comes next: a failed answer needs a new ceremony.
func (rp *RelyingParty) take(ctx context.Context, id, purpose string, accountID int64) (state, error) {
	if len(id) != ceremonyIDLength {
		return state{}, chirp.CeremonyOver()
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(id); err != nil {
		return state{}, chirp.CeremonyOver()
	}
	c, err := rp.ceremonies.TakeCeremony(ctx, chirp.HashEditToken(id), rp.now())
	if err != nil {
		return state{}, err
	}
	if c.Purpose != purpose || c.AccountID != accountID {
		return state{}, chirp.CeremonyOver()
	}
	var st state
	if err := json.Unmarshal(c.State, &st); err != nil {
		return state{}, fmt.Errorf("read the ceremony's state: %w", err)
	}
	return st, nil
}

// register verifies a registration's credential against the ceremony and returns the passkey
// to store.
func (rp *RelyingParty) register(u *user, session webauthn.SessionData, credential []byte) (chirp.Passkey, error) {
	parsed, err := rp.parseCreation(credential)
	if err != nil {
		return chirp.Passkey{}, err
	}
	made, err := rp.wa.CreateCredential(u, session, parsed)
	if err != nil {
		return chirp.Passkey{}, &chirp.Error{Code: chirp.CodeBadRequest,
			Message: "the new passkey did not verify: " + details(err), Cause: err}
	}
	return passkeyOf(made)
}

// parseCreation reads a registration's credential (the page's credential.toJSON()) and checks
// its page origin; every error is chirp.CodeBadRequest.
func (rp *RelyingParty) parseCreation(credential []byte) (*protocol.ParsedCredentialCreationData, error) {
	return parseFrom(rp, credential, protocol.ParseCredentialCreationResponseBytes,
		func(p *protocol.ParsedCredentialCreationData) string { return p.Response.CollectedClientData.Origin })
}

// parseAssertion reads a sign-in's credential and checks its page origin; every error is
// chirp.CodeBadRequest.
func (rp *RelyingParty) parseAssertion(credential []byte) (*protocol.ParsedCredentialAssertionData, error) {
	return parseFrom(rp, credential, protocol.ParseCredentialRequestResponseBytes,
		func(p *protocol.ParsedCredentialAssertionData) string { return p.Response.CollectedClientData.Origin })
}

func parseFrom[T any](rp *RelyingParty, credential []byte, parse func([]byte) (T, error), origin func(T) string) (T, error) {
	parsed, err := parse(credential)
	if err != nil {
		var none T
		return none, notACredential(err)
	}
	if err := rp.checkOrigin(origin(parsed)); err != nil {
		var none T
		return none, err
	}
	return parsed, nil
}

// checkOrigin refuses a page origin outside WEBAUTHN_ORIGINS before the library does, for the
// answer to name the setting: the usual cause is a deployment whose page is served from an
// origin the operator did not list.
func (rp *RelyingParty) checkOrigin(origin string) error {
	if protocol.IsOriginInHaystack(origin, rp.cfg.Origins) {
		return nil
	}
	if origin == "" {
		return chirp.Errorf(chirp.CodeBadRequest, "credential: its client data names no page origin")
	}
	return chirp.Errorf(chirp.CodeBadRequest, "the page's origin %s is not one of WEBAUTHN_ORIGINS (%s)",
		origin, strings.Join(rp.cfg.Origins, ", "))
}

// notACredential is the answer to a body that is not a WebAuthn credential's JSON.
func notACredential(err error) *chirp.Error {
	return &chirp.Error{Code: chirp.CodeBadRequest,
		Message: "credential: not a WebAuthn credential as PublicKeyCredential.toJSON() makes it: " + details(err), Cause: err}
}

// details is what the library says went wrong, in its words meant for clients.
func details(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "it could not be read"
}
