// Package chirp is the domain of Chirp, a small realtime microblog: tweets, the rules their text
// follows, the errors the product answers with, and the interfaces the adapters (store, HTTP API,
// socket server) implement or need. It imports nothing of ours.
package chirp

import (
	"context"
	"math"
	"time"
)

// Tweet is a stored tweet as the product shows it. Its edit token is never part of it.
type Tweet struct {
	ID int64
	// Author is the name the tweet shows: a guest's typed name, or the account's display name.
	Author    string
	Content   string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Account is the account that posted the tweet; nil for a guest's (every tweet made before
	// accounts, and every tweet posted without a session).
	Account *TweetAccount
}

// TweetAccount is an account as its tweets show it, and the owner an edit is checked against.
type TweetAccount struct {
	ID          int64
	Handle      string
	DisplayName string
}

// DefaultPageSize and MaxPageSize bound how many tweets one list request returns.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// NoMaxID is PageQuery.MaxID when the page has no upper bound.
const NoMaxID = math.MaxInt64

// PageQuery selects a page of the timeline by id (keyset pagination, as Mastodon's API): ids
// below MaxID and above SinceID or MinID. SinceID takes the newest Limit of those; a Forward
// query takes the oldest Limit above MinID instead (the gap-free way to walk forward). Pages
// are always returned newest first. NewestPage is the usual starting point.
type PageQuery struct {
	Limit   int
	MaxID   int64
	SinceID int64
	MinID   int64
	// AccountID, when not 0, keeps only the tweets of that account: a profile's timeline,
	// paged the same way.
	AccountID int64
	// Forward says MinID was given, even as 0 (from the very first tweet): it is the
	// parameter's presence, not its value, that makes a query walk forward.
	Forward bool
}

// NewestPage is the query for the newest tweets: no bounds, the default page size.
func NewestPage() PageQuery {
	return PageQuery{Limit: DefaultPageSize, MaxID: NoMaxID}
}

// Validate checks the query's own consistency; the HTTP layer has already parsed its numbers.
func (q PageQuery) Validate() error {
	switch {
	case q.Limit < 1 || q.Limit > MaxPageSize:
		return Errorf(CodeBadRequest, "limit must be an integer from 1 to %d", MaxPageSize)
	case q.MaxID < 0 || q.SinceID < 0 || q.MinID < 0:
		return Errorf(CodeBadRequest, "ids must not be negative")
	case q.Forward && q.SinceID > 0:
		return Errorf(CodeBadRequest, "since_id and min_id cannot be combined")
	case !q.Forward && q.MinID > 0:
		return Errorf(CodeBadRequest, "min_id needs a forward query")
	}
	return nil
}

// TweetStore keeps tweets. Implementations must make ids grow with every new tweet and must
// make a tweet visible to Tweets only after every tweet with a smaller id is visible, so that a
// reader walking forward with SinceID or MinID never skips one.
type TweetStore interface {
	// CreateTweet stores a new tweet whose edit token hashes to tokenHash; it returns once
	// the tweet is committed. A draft with an Account makes that account's tweet, returned with
	// the account as stored: tokenHash is ignored (it has no edit token), and when the account
	// is gone the create fails with CodeNotFound and stores nothing.
	CreateTweet(ctx context.Context, d Draft, tokenHash []byte) (Tweet, error)
	// CreateTweetOnce is CreateTweet under an idempotency key. The first create with key
	// stores the tweet, and keeps key, the draft and token in clear for IdempotencyWindow,
	// committed together with the tweet. Within the window, a create with the same key and
	// the same draft (after the text rules) stores nothing and returns the original tweet (as
	// created, even if edited or deleted since) and token, Replayed; with a different draft it
	// fails with KeyReused. Concurrent creates with one key make one tweet, and each of them
	// returns it. A key is the account's alone (or the guests'): the same key from another
	// account or a guest is another key. An account's tweet keeps no token: it and its replays
	// answer EditToken "".
	CreateTweetOnce(ctx context.Context, d Draft, token string, key IdempotencyKey) (Created, error)
	// Tweet returns one tweet, or an error with CodeNotFound.
	Tweet(ctx context.Context, id int64) (Tweet, error)
	// Tweets returns one page of the timeline, or of one account's tweets, newest first.
	Tweets(ctx context.Context, q PageQuery) ([]Tweet, error)
	// AuthorizeEdit checks that token is the edit token of tweet id: CodeNotFound when there is
	// no such tweet, CodeForbidden when the token is wrong, and for every token when the tweet
	// is an account's (only that account's session may change it, which the caller checks).
	AuthorizeEdit(ctx context.Context, id int64, token string) error
	// UpdateTweet replaces a tweet's content and moves its UpdatedAt forward.
	UpdateTweet(ctx context.Context, id int64, e Edit) (Tweet, error)
	// DeleteTweet removes a tweet for good; CodeNotFound when it is not there.
	DeleteTweet(ctx context.Context, id int64) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// Announcer tells connected clients about committed changes. Implementations must not block:
// the request that triggered the event returns without waiting for any client.
type Announcer interface {
	TweetCreated(t Tweet)
	TweetUpdated(t Tweet)
	TweetDeleted(id int64)
}

// EventSink is where the event bus delivers what other processes announced: their committed
// changes, as to an Announcer, and what only a bus knows of. The bus calls it; the hot window
// wraps the socket server's to keep itself current first.
type EventSink interface {
	Announcer
	// NewTweetHint tells every client to ask the API what is new: another process relayed a
	// client's newTweet.
	NewTweetHint()
	// Resync is called when the bus is back after missing who knows what: whatever holds a view
	// of the database refreshes it, and clients are told to ask the API what they missed.
	Resync()
}
