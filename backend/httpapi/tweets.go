package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
)

// tweetJSON is a tweet as the API shows it.
type tweetJSON struct {
	ID        int64  `json:"id"`
	Author    string `json:"author"`
	Content   string `json:"content"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	// Account is who posted the tweet; null for a guest.
	Account *tweetAccountJSON `json:"account"`
}

// tweetAccountJSON is the account a tweet shows.
type tweetAccountJSON struct {
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
}

// createdJSON is the answer to a create: the one time a guest's edit token is shown. An
// account's tweet has none: its session edits it.
type createdJSON struct {
	tweetJSON
	EditToken string `json:"edit_token,omitempty"`
}

// timeFormat is RFC 3339 in UTC with exactly three fractional digits.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func toJSON(t chirp.Tweet) tweetJSON {
	out := tweetJSON{
		ID:        t.ID,
		Author:    t.Author,
		Content:   t.Content,
		CreatedAt: t.CreatedAt.UTC().Format(timeFormat),
		UpdatedAt: t.UpdatedAt.UTC().Format(timeFormat),
	}
	if t.Account != nil {
		out.Account = &tweetAccountJSON{Handle: t.Account.Handle, DisplayName: t.Account.DisplayName}
	}
	return out
}

type tweets struct {
	store     chirp.TweetStore
	announcer chirp.Announcer
	errs      errorWriter
	// sessions is nil when the server has no accounts: every tweet is then a guest's.
	sessions *sessions
	// signedInOnly refuses guests' posts (GUEST_POSTS=false).
	signedInOnly bool
}

// handle adapts a handler that returns its error, so that every failure is written by the
// one error writer. A success tells the outage log the database answers.
func (h *tweets) handle(f func(c *gin.Context) error) gin.HandlerFunc { return handleWith(h.errs, f) }

func handleWith(errs errorWriter, f func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := f(c); err != nil {
			errs.write(c, err)
			return
		}
		errs.outages.Recovered()
	}
}

func (h *tweets) list(c *gin.Context) error {
	return listPage(c, h.store, "/api/tweets", 0)
}

// listPage answers a page of tweets (of one account when accountID is not 0) with the Link to
// the next one at path, by the request's paging query.
func listPage(c *gin.Context, store chirp.TweetStore, path string, accountID int64) error {
	q, err := pageQuery(c.Request.URL.Query())
	if err != nil {
		return err
	}
	q.AccountID = accountID
	page, err := store.Tweets(c.Request.Context(), q)
	if err != nil {
		return err
	}
	out := make([]tweetJSON, len(page))
	for i, t := range page {
		out[i] = toJSON(t)
	}
	if len(page) == q.Limit {
		c.Header("Link", nextLink(path, q, page[len(page)-1].ID))
	}
	c.PureJSON(http.StatusOK, out)
	return nil
}

func (h *tweets) create(c *gin.Context) error {
	key, err := idempotencyKey(c.Request.Header)
	if err != nil {
		return err
	}
	who, signed, err := h.sessions.optional(c)
	if err != nil {
		return err
	}
	if !signed && h.signedInOnly {
		return chirp.Errorf(chirp.CodeUnauthorized, "sign in to post (this server takes no guest posts)")
	}
	obj, err := readObject(c)
	if err != nil {
		return err
	}
	problems := map[string]string{}
	var draft chirp.Draft
	if signed {
		// An account posts under its display name: an author in the body is ignored.
		draft, err = chirp.NewDraft(who.account.DisplayName, obj.str("content", problems))
		draft.Account = who.tweetAccount()
	} else {
		author, content := obj.str("author", problems), obj.str("content", problems)
		draft, err = chirp.NewDraft(author, content)
	}
	if err := invalid(problems, err); err != nil {
		return err
	}
	// An account's tweet is stored with the hash of a token nobody is given: it has no usable
	// edit token, and the store refuses edit tokens on it besides.
	token, hash, err := chirp.NewEditToken()
	if err != nil {
		return err
	}
	created := chirp.Created{EditToken: token}
	if key == "" {
		created.Tweet, err = h.store.CreateTweet(c.Request.Context(), draft, hash)
	} else {
		created, err = h.store.CreateTweetOnce(c.Request.Context(), draft, token, key)
	}
	if err != nil {
		return err
	}
	// A replay stored nothing: its tweet was announced when it was made.
	if h.announcer != nil && !created.Replayed {
		h.announcer.TweetCreated(created.Tweet)
	}
	t := created.Tweet
	out := createdJSON{tweetJSON: toJSON(t), EditToken: created.EditToken}
	if signed {
		out.EditToken = ""
	}
	c.Header("Location", "/api/tweets/"+strconv.FormatInt(t.ID, 10))
	c.PureJSON(http.StatusCreated, out)
	return nil
}

// idempotencyKey reads the optional Idempotency-Key header: absent is no key; present, it must
// be one valid key (an empty or repeated header is a 400 too, not silently "no key").
func idempotencyKey(h http.Header) (chirp.IdempotencyKey, error) {
	switch vs := h.Values("Idempotency-Key"); len(vs) {
	case 0:
		return "", nil
	case 1:
		return chirp.ParseIdempotencyKey(vs[0])
	default:
		return "", chirp.Errorf(chirp.CodeBadRequest, "Idempotency-Key is given %d times; give it once", len(vs))
	}
}

func (h *tweets) get(c *gin.Context) error {
	id, err := parseID(c.Param("id"))
	if err != nil {
		return err
	}
	t, err := h.store.Tweet(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusOK, toJSON(t))
	return nil
}

func (h *tweets) update(c *gin.Context) error {
	id, err := parseID(c.Param("id"))
	if err != nil {
		return err
	}
	obj, err := readObject(c)
	if err != nil {
		return err
	}
	if err := h.authorize(c, id); err != nil {
		return err
	}
	// Only content can change; anything else in the body, author included, is ignored.
	problems := map[string]string{}
	edit, err := chirp.NewEdit(obj.str("content", problems))
	if err := invalid(problems, err); err != nil {
		return err
	}
	t, err := h.store.UpdateTweet(c.Request.Context(), id, edit)
	if err != nil {
		return err
	}
	if h.announcer != nil {
		h.announcer.TweetUpdated(t)
	}
	c.PureJSON(http.StatusOK, toJSON(t))
	return nil
}

func (h *tweets) delete(c *gin.Context) error {
	id, err := parseID(c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.authorize(c, id); err != nil {
		return err
	}
	if err := h.store.DeleteTweet(c.Request.Context(), id); err != nil {
		return err
	}
	if h.announcer != nil {
		h.announcer.TweetDeleted(id)
	}
	c.Status(http.StatusNoContent)
	return nil
}

// authorize checks that the request may change the tweet, after the tweet's existence: a
// missing tweet is a 404 whatever came with the request. An account's tweet needs a session of
// that account; a guest's, its edit token (a session token there is just a wrong edit token).
func (h *tweets) authorize(c *gin.Context, id int64) error {
	t, err := h.store.Tweet(c.Request.Context(), id)
	if err != nil {
		return err
	}
	if t.Account != nil {
		if h.sessions == nil {
			return accounts.SessionInvalid()
		}
		who, err := h.sessions.require(c)
		if err != nil {
			return err
		}
		if who.account.ID != t.Account.ID {
			return chirp.Errorf(chirp.CodeForbidden, "this tweet is @%s's", t.Account.Handle)
		}
		return nil
	}
	token, ok := bearerToken(c.GetHeader("Authorization"))
	if !ok {
		return chirp.Errorf(chirp.CodeUnauthorized, "send the tweet's edit token as Authorization: Bearer <edit_token>")
	}
	return h.store.AuthorizeEdit(c.Request.Context(), id, token)
}

func bearerToken(header string) (string, bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
