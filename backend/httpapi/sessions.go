package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
)

// The two things every signed-in route needs, in one place: who is asking (require, optional)
// and signing someone in (start). Ceremonies that end in a session (passkeys) call start too.

// signedIn is who sent a request: the account and the session its token opened.
type signedIn struct {
	account chirp.Account
	session chirp.Session
}

// tweetAccount is the account as its tweets carry it.
func (s signedIn) tweetAccount() *chirp.TweetAccount {
	return &chirp.TweetAccount{ID: s.account.ID, Handle: s.account.Handle, DisplayName: s.account.DisplayName}
}

// sessions authenticates requests by their session token (Authorization: Bearer) and starts
// sessions.
type sessions struct {
	store   chirp.AccountStore
	maxIdle time.Duration
	now     func() time.Time
}

// freshFor is how recent a sign-in must be for what cannot be undone or locks others out:
// deleting the account, changing its password.
const freshFor = 10 * time.Minute

// require returns the request's session, or a 401: none sent, or one that is malformed,
// unknown, expired or signed out.
func (s *sessions) require(c *gin.Context) (signedIn, error) {
	who, ok, err := s.optional(c)
	if err == nil && !ok {
		err = chirp.Errorf(chirp.CodeUnauthorized, "sign in: send Authorization: Bearer <session token>")
	}
	return who, err
}

// optional returns the request's session when it sends one (ok), nothing when it sends no
// Authorization header, and a 401 when what it sends opens no session: a client that meant to
// be signed in is told so, never quietly served as a guest.
func (s *sessions) optional(c *gin.Context) (who signedIn, ok bool, err error) {
	header := c.GetHeader("Authorization")
	if header == "" || s == nil {
		return signedIn{}, false, nil
	}
	raw, found := bearerToken(header)
	if !found {
		return signedIn{}, false, accounts.SessionInvalid()
	}
	token, err := accounts.ParseSessionToken(raw)
	if err != nil {
		return signedIn{}, false, err
	}
	ctx := c.Request.Context()
	sess, err := s.store.SessionByTokenHash(ctx, accounts.HashSessionToken(token), s.now(), s.maxIdle)
	if err != nil {
		return signedIn{}, false, sessionLost(err)
	}
	a, err := s.store.AccountByID(ctx, sess.AccountID)
	if err != nil {
		return signedIn{}, false, sessionLost(err) // deleted since the lookup
	}
	return signedIn{account: a, session: sess}, true, nil
}

// sessionLost turns "no such session" or "no such account" into the one answer a client gets
// for any token that opens nothing; other failures (the database away) stay what they are.
func sessionLost(err error) error {
	if chirp.ErrorCode(err) == chirp.CodeNotFound {
		return accounts.SessionInvalid()
	}
	return err
}

// fresh refuses a session signed in more than freshFor ago with 403 "sign in again to <what>".
func (s *sessions) fresh(who signedIn, what string) error {
	if s.now().Sub(who.session.CreatedAt) > freshFor {
		return chirp.Errorf(chirp.CodeForbidden, "sign in again to %s (within the last %d minutes)", what, int(freshFor.Minutes()))
	}
	return nil
}

// start signs the account in: it opens a session and answers 201 with its token (shown this
// once) and the account.
func (s *sessions) start(c *gin.Context, a chirp.Account) error {
	token, hash := accounts.NewSessionToken()
	if _, err := s.store.CreateSession(c.Request.Context(), a.ID, hash, s.now()); err != nil {
		return err
	}
	c.PureJSON(http.StatusCreated, signedInJSON{Token: token, Account: accountToJSON(a)})
	return nil
}

// signedInJSON is the answer to a sign-up or sign-in.
type signedInJSON struct {
	Token   string      `json:"token"`
	Account accountJSON `json:"account"`
}

// accountJSON is an account as anyone may see it.
type accountJSON struct {
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func accountToJSON(a chirp.Account) accountJSON {
	return accountJSON{Handle: a.Handle, DisplayName: a.DisplayName, CreatedAt: a.CreatedAt.UTC().Format(timeFormat)}
}
