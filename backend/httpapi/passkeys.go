package httpapi

import (
	"bytes"
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
	"github.com/chirp-social/chirp/backend/passkeys"
)

// Passkeys runs the WebAuthn ceremonies (a *passkeys.RelyingParty). Each has two steps: its
// options, with a ceremony id, and its finish, with that id and the browser's credential.
type Passkeys interface {
	BeginSignUp(ctx context.Context, handle, displayName string) (passkeys.Options, error)
	FinishSignUp(ctx context.Context, ceremony string, credential []byte) (chirp.Account, error)
	BeginSignIn(ctx context.Context) (passkeys.Options, error)
	FinishSignIn(ctx context.Context, ceremony string, credential []byte) (chirp.Account, error)
	BeginAdd(ctx context.Context, accountID int64) (passkeys.Options, error)
	FinishAdd(ctx context.Context, accountID int64, ceremony string, credential []byte) (chirp.Passkey, error)
}

// passkeyRoutes serves the passkey ceremonies, with the account routes' sessions and sign-in
// budget.
type passkeyRoutes struct {
	rp Passkeys
	*accountRoutes
}

// routePasskeys routes the ceremonies. Each options step stores a ceremony, so it counts on the
// client's write budget, as do the sign-up and the adding of a passkey; a sign-in counts on the
// address's sign-in budget instead, as a password's does.
func routePasskeys(api gin.IRoutes, h *passkeyRoutes, writes gin.HandlerFunc, errs errorWriter) {
	do := func(f func(c *gin.Context) error) gin.HandlerFunc { return handleWith(errs, f) }
	api.POST("/passkeys/signup/options", writes, do(h.signUpOptions))
	api.POST("/passkeys/signup", writes, do(h.signUp))
	api.POST("/passkeys/signin/options", writes, do(h.signInOptions))
	api.POST("/passkeys/signin", do(h.signIn))
	api.POST("/me/passkeys/options", writes, do(h.addOptions))
	api.POST("/me/passkeys", writes, do(h.add))
}

// signUpOptions checks the handle and display name an account would have and begins its
// passkey's ceremony: 409 when the handle is taken already.
func (h *passkeyRoutes) signUpOptions(c *gin.Context) error {
	obj, err := readObject(c)
	if err != nil {
		return err
	}
	problems := map[string]string{}
	rawHandle, rawName := obj.str("handle", problems), obj.str("display_name", problems)
	handle, handleErr := accounts.ParseHandle(rawHandle)
	name, nameErr := chirp.NewDisplayName(rawName)
	if err := invalid(problems, allFields(handleErr, nameErr)); err != nil {
		return err
	}
	o, err := h.rp.BeginSignUp(c.Request.Context(), string(handle), name)
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusOK, o)
	return nil
}

// signUp makes the account with the passkey the browser made, and signs it in.
func (h *passkeyRoutes) signUp(c *gin.Context) error {
	ceremony, credential, err := readCeremonyAnswer(c)
	if err != nil {
		return err
	}
	a, err := h.rp.FinishSignUp(c.Request.Context(), ceremony, credential)
	if err != nil {
		return err
	}
	return h.sessions.start(c, a)
}

// signInOptions begins a sign-in with any of the site's passkeys: no handle asked.
func (h *passkeyRoutes) signInOptions(c *gin.Context) error {
	if _, err := readObject(c); err != nil {
		return err
	}
	o, err := h.rp.BeginSignIn(c.Request.Context())
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusOK, o)
	return nil
}

// signIn verifies the passkey's signature and starts a session of its account.
func (h *passkeyRoutes) signIn(c *gin.Context) error {
	if err := h.spendSignIn(c); err != nil {
		return err
	}
	ceremony, credential, err := readCeremonyAnswer(c)
	if err != nil {
		return err
	}
	a, err := h.rp.FinishSignIn(c.Request.Context(), ceremony, credential)
	if err != nil {
		return err
	}
	return h.sessions.start(c, a)
}

// addOptions begins adding a passkey to the signed-in account.
func (h *passkeyRoutes) addOptions(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	if _, err := readObject(c); err != nil {
		return err
	}
	o, err := h.rp.BeginAdd(c.Request.Context(), who.account.ID)
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusOK, o)
	return nil
}

// add adds the passkey the browser made to the signed-in account: 201 with it.
func (h *passkeyRoutes) add(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	ceremony, credential, err := readCeremonyAnswer(c)
	if err != nil {
		return err
	}
	p, err := h.rp.FinishAdd(c.Request.Context(), who.account.ID, ceremony, credential)
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusCreated, passkeyToJSON(p))
	return nil
}

// readCeremonyAnswer reads a ceremony's finish: {ceremony, credential}, the credential an
// object (the page's credential.toJSON()), passed on as its JSON text.
func readCeremonyAnswer(c *gin.Context) (ceremony string, credential []byte, err error) {
	obj, err := readObject(c)
	if err != nil {
		return "", nil, err
	}
	problems := map[string]string{}
	ceremony = obj.str("ceremony", problems)
	credential = bytes.TrimSpace(obj["credential"])
	switch {
	case len(credential) == 0 || string(credential) == "null":
		problems["credential"] = "is required: the page's credential.toJSON()"
	case credential[0] != '{':
		problems["credential"] = "must be an object: the page's credential.toJSON()"
	}
	if err := invalid(problems, nil); err != nil {
		return "", nil, err
	}
	return ceremony, credential, nil
}
