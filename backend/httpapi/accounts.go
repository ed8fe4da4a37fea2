package httpapi

import (
	"context"
	"errors"
	"maps"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/ratelimit"
)

// Passwords hashes new passwords and checks the ones sign-ins send (an *accounts.Hasher).
type Passwords interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, encoded, password string) (bool, error)
	// VerifyUnknown costs what Verify costs, for a handle with no password to check.
	VerifyUnknown(ctx context.Context, password string) error
}

// accountRoutes serves accounts, profiles and sessions.
type accountRoutes struct {
	store     chirp.AccountStore
	tweets    chirp.TweetStore
	passwords Passwords
	sessions  *sessions
	announcer chirp.Announcer
	// signIns is each client address's budget of sign-in attempts, signInsOf each handle's.
	signIns, signInsOf *ratelimit.Limiter
	bites              *limitlog.Log
}

// wrongSignIn is the one answer to a handle that is unknown, a wrong password, and an account
// without a password: none tells a guesser more than the others.
func wrongSignIn() error {
	return chirp.Errorf(chirp.CodeUnauthorized, "handle or password is wrong")
}

// signUp creates an account with a password and signs it in.
func (h *accountRoutes) signUp(c *gin.Context) error {
	obj, err := readObject(c)
	if err != nil {
		return err
	}
	problems := map[string]string{}
	rawHandle, rawName, password := obj.str("handle", problems), obj.str("display_name", problems), obj.str("password", problems)
	handle, handleErr := accounts.ParseHandle(rawHandle)
	name, nameErr := chirp.NewDisplayName(rawName)
	if err := invalid(problems, allFields(handleErr, nameErr, accounts.CheckPassword(password, handle))); err != nil {
		return err
	}
	hash, err := h.passwords.Hash(c.Request.Context(), password)
	if err != nil {
		return err
	}
	a, err := h.store.CreateAccount(c.Request.Context(), chirp.NewAccount{Handle: string(handle), DisplayName: name, PasswordHash: hash})
	if err != nil {
		return err
	}
	return h.sessions.start(c, a)
}

// allFields joins the verdicts of several rules, each about its own fields, into one: nil, the
// first error that is not about fields, or one CodeInvalid naming every field at fault.
func allFields(ruleErrs ...error) error {
	fields := map[string]string{}
	for _, err := range ruleErrs {
		var e *chirp.Error
		if err == nil {
			continue
		}
		if !errors.As(err, &e) || e.Code != chirp.CodeInvalid {
			return err
		}
		maps.Copy(fields, e.Fields)
	}
	if len(fields) == 0 {
		return nil
	}
	return chirp.Invalid(fields)
}

// signIn checks a handle and password and starts a session. Every way to fail costs one
// password verification and gets the same answer.
func (h *accountRoutes) signIn(c *gin.Context) error {
	if err := h.spendSignIn(c); err != nil {
		return err
	}
	obj, err := readObject(c)
	if err != nil {
		return err
	}
	problems := map[string]string{}
	rawHandle, password := obj.str("handle", problems), obj.str("password", problems)
	if err := invalid(problems, nil); err != nil {
		return err
	}
	ctx := c.Request.Context()
	handle, err := accounts.ParseHandle(rawHandle)
	if err != nil {
		// No account has this handle; the address's budget is all that limits guesses at it.
		return h.unknown(ctx, password)
	}
	if err := spend(c, h.signInsOf, h.bites, "signin_account", string(handle), "too many sign-in attempts for @"+string(handle)); err != nil {
		return err
	}
	a, err := h.store.AccountByHandle(ctx, string(handle))
	if chirp.ErrorCode(err) == chirp.CodeNotFound {
		return h.unknown(ctx, password)
	} else if err != nil {
		return err
	}
	encoded, err := h.store.PasswordHash(ctx, a.ID)
	if chirp.ErrorCode(err) == chirp.CodeNotFound || err == nil && encoded == "" {
		return h.unknown(ctx, password) // deleted meanwhile, or signs in with passkeys only
	} else if err != nil {
		return err
	}
	ok, err := h.passwords.Verify(ctx, encoded, password)
	if err != nil {
		return err
	}
	if !ok {
		return wrongSignIn()
	}
	return h.sessions.start(c, a)
}

// spendSignIn takes a sign-in attempt from the client address's budget (SIGNIN_LIMIT_PER_MINUTE),
// or returns the 429: every way of signing in (password, passkey) spends it first.
func (h *accountRoutes) spendSignIn(c *gin.Context) error {
	return spend(c, h.signIns, h.bites, "signin", clientaddr.Key(clientOf(c)), "too many sign-in attempts from your address")
}

// unknown spends on a sign-in with no password to check what a wrong password costs.
func (h *accountRoutes) unknown(ctx context.Context, password string) error {
	if err := h.passwords.VerifyUnknown(ctx, password); err != nil {
		return err
	}
	return wrongSignIn()
}

// meJSON is the signed-in account as it sees itself.
type meJSON struct {
	accountJSON
	HasPassword bool `json:"has_password"`
	Passkeys    int  `json:"passkeys"`
}

func (h *accountRoutes) me(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	encoded, err := h.store.PasswordHash(ctx, who.account.ID)
	if err != nil {
		return err
	}
	keys, err := h.store.PasskeysOf(ctx, who.account.ID)
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusOK, meJSON{accountJSON: accountToJSON(who.account), HasPassword: encoded != "", Passkeys: len(keys)})
	return nil
}

// deleteMe deletes the account with its tweets, sessions and passkeys, after a fresh sign-in.
// Its tweets are announced as deleted once the deletion committed.
func (h *accountRoutes) deleteMe(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	if err := h.sessions.fresh(who, "delete your account"); err != nil {
		return err
	}
	deleted, err := h.store.DeleteAccount(c.Request.Context(), who.account.ID)
	if err != nil {
		return err
	}
	if h.announcer != nil {
		for _, id := range deleted {
			h.announcer.TweetDeleted(id)
		}
	}
	c.Status(http.StatusNoContent)
	return nil
}

// setPassword gives the account a password or replaces it. Replacing one needs a fresh
// sign-in: a session left open on a shared computer must not lock its owner out. It also ends
// the account's other sessions: a password is changed because it may be known to someone, who
// must not stay signed in with it. Adding a first password leaves them be.
func (h *accountRoutes) setPassword(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	old, err := h.store.PasswordHash(ctx, who.account.ID)
	if err != nil {
		return err
	}
	if old != "" {
		if err := h.sessions.fresh(who, "change your password"); err != nil {
			return err
		}
	}
	obj, err := readObject(c)
	if err != nil {
		return err
	}
	problems := map[string]string{}
	password := obj.str("password", problems)
	if err := invalid(problems, accounts.CheckPassword(password, accounts.Handle(who.account.Handle))); err != nil {
		return err
	}
	encoded, err := h.passwords.Hash(ctx, password)
	if err != nil {
		return err
	}
	if old == "" {
		err = h.store.SetPasswordHash(ctx, who.account.ID, encoded)
	} else {
		err = h.store.ReplacePasswordHash(ctx, who.account.ID, encoded, who.session.ID)
	}
	if err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// profile answers an account's public face. Anything that names no account, a malformed
// handle included, is "no such account".
func (h *accountRoutes) profile(c *gin.Context) error {
	a, err := h.byHandle(c)
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusOK, accountToJSON(a))
	return nil
}

// profileTweets answers a page of the account's tweets, paged as the timeline is.
func (h *accountRoutes) profileTweets(c *gin.Context) error {
	a, err := h.byHandle(c)
	if err != nil {
		return err
	}
	return listPage(c, h.tweets, "/api/accounts/"+a.Handle+"/tweets", a.ID)
}

func (h *accountRoutes) byHandle(c *gin.Context) (chirp.Account, error) {
	handle, err := accounts.ParseHandle(c.Param("handle"))
	if err != nil {
		return chirp.Account{}, chirp.AccountNotFound()
	}
	return h.store.AccountByHandle(c.Request.Context(), string(handle))
}
