package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
)

// sessionJSON is one of the account's sessions as its owner sees it.
type sessionJSON struct {
	ID         int64  `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	// Current is the session the request came with.
	Current bool `json:"current"`
}

// listSessions answers the account's live sessions, newest first.
func (h *accountRoutes) listSessions(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	list, err := h.store.ListSessions(c.Request.Context(), who.account.ID, h.sessions.now(), h.sessions.maxIdle)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, len(list))
	for i, s := range list {
		out[i] = sessionJSON{
			ID:         s.ID,
			CreatedAt:  s.CreatedAt.UTC().Format(timeFormat),
			LastUsedAt: s.LastUsedAt.UTC().Format(timeFormat),
			Current:    s.ID == who.session.ID,
		}
	}
	c.PureJSON(http.StatusOK, out)
	return nil
}

// signOut ends the request's own session.
func (h *accountRoutes) signOut(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteSession(c.Request.Context(), who.account.ID, who.session.ID); err != nil {
		return sessionLost(err) // ended by another request meanwhile
	}
	c.Status(http.StatusNoContent)
	return nil
}

// signOutElsewhere ends every session of the account but the request's own.
func (h *accountRoutes) signOutElsewhere(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	n, err := h.store.DeleteOtherSessions(c.Request.Context(), who.account.ID, who.session.ID)
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusOK, gin.H{"ended": n})
	return nil
}

// endSession ends one of the account's sessions; another account's is "no such session".
func (h *accountRoutes) endSession(c *gin.Context) error {
	id, err := parseIDOf("session", c.Param("id"))
	if err != nil {
		return err
	}
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteSession(c.Request.Context(), who.account.ID, id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// passkeyJSON is one of the account's passkeys as its owner sees it.
type passkeyJSON struct {
	ID         int64   `json:"id"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"` // null until it signs in once
	// BackupEligible says the passkey may be synced to the owner's other devices, BackedUp
	// that it is: a passkey that is neither is lost with its device.
	BackupEligible bool `json:"backup_eligible"`
	BackedUp       bool `json:"backed_up"`
}

func passkeyToJSON(p chirp.Passkey) passkeyJSON {
	out := passkeyJSON{
		ID:             p.ID,
		CreatedAt:      p.CreatedAt.UTC().Format(timeFormat),
		BackupEligible: p.BackupEligible(),
		BackedUp:       p.BackupState(),
	}
	if !p.LastUsedAt.IsZero() {
		used := p.LastUsedAt.UTC().Format(timeFormat)
		out.LastUsedAt = &used
	}
	return out
}

// listPasskeys answers the account's passkeys, oldest first.
func (h *accountRoutes) listPasskeys(c *gin.Context) error {
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	keys, err := h.store.PasskeysOf(c.Request.Context(), who.account.ID)
	if err != nil {
		return err
	}
	out := make([]passkeyJSON, len(keys))
	for i, p := range keys {
		out[i] = passkeyToJSON(p)
	}
	c.PureJSON(http.StatusOK, out)
	return nil
}

// deletePasskey removes one of the account's passkeys, unless it is the last way the account
// can sign in: an account without a password keeps its last passkey.
func (h *accountRoutes) deletePasskey(c *gin.Context) error {
	id, err := parseIDOf("passkey", c.Param("id"))
	if err != nil {
		return err
	}
	who, err := h.sessions.require(c)
	if err != nil {
		return err
	}
	// The store refuses the last way in, in the transaction that deletes: two deletes at once
	// cannot both pass a check made here first.
	ctx := c.Request.Context()
	if err := h.store.DeletePasskey(ctx, who.account.ID, id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
