package hotwindow

// The read rule: which page of the window's tweets answers a query, and when the window cannot
// answer it (the page may reach below the floor). Pure functions over an ascending slice, so
// that FuzzAnswer can hold them to a brute-force page.

import (
	"cmp"
	"slices"

	"github.com/chirp-social/chirp/backend"
)

// answer is q's page from tweets (ascending), complete for ids above floor, or errStale when
// the answer may reach below floor.
func answer(tweets []chirp.Tweet, floor int64, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if q.AccountID != 0 {
		tweets = ofAccount(tweets, q.AccountID)
	}
	// Indexes of the first tweet above the lower bound and of the first at or above MaxID.
	hi, _ := findIn(tweets, q.MaxID)
	if q.Forward {
		if q.MinID < floor {
			return nil, errStale
		}
		lo := above(tweets, q.MinID)
		if lo >= hi {
			return []chirp.Tweet{}, nil
		}
		return newestFirst(tweets[lo:min(hi, lo+q.Limit)]), nil
	}
	lo := above(tweets, q.SinceID)
	if hi-lo >= q.Limit {
		return newestFirst(tweets[hi-q.Limit : hi]), nil
	}
	if q.SinceID < floor {
		return nil, errStale
	}
	if lo >= hi {
		return []chirp.Tweet{}, nil
	}
	return newestFirst(tweets[lo:hi]), nil
}

// above is the index of the first tweet whose id is above id.
func above(tweets []chirp.Tweet, id int64) int {
	i, found := findIn(tweets, id)
	if found {
		i++
	}
	return i
}

// newestFirst copies ascending tweets into a page, newest first: the caller owns it.
func newestFirst(asc []chirp.Tweet) []chirp.Tweet {
	page := make([]chirp.Tweet, len(asc))
	for i, t := range asc {
		page[len(asc)-1-i] = t
	}
	return page
}

// ofAccount is the account's tweets among tweets (ascending). The window holds every tweet in
// (floor, top], so it holds every one of the account's there too, and the read rule holds for
// them as it does for all: a profile's page is answered from memory when it lies above floor.
// That is what a profile's herd asks (each tab on it reads since_id at every announced tweet),
// and a pass over at most Size+Size/4 tweets costs less than the database's round trip.
func ofAccount(tweets []chirp.Tweet, accountID int64) []chirp.Tweet {
	var mine []chirp.Tweet
	for _, t := range tweets {
		if t.Account != nil && t.Account.ID == accountID {
			mine = append(mine, t)
		}
	}
	return mine
}

// findIn is the index of the tweet with id in tweets (ascending), or where it would be.
func findIn(tweets []chirp.Tweet, id int64) (int, bool) {
	return slices.BinarySearchFunc(tweets, id, func(t chirp.Tweet, id int64) int { return cmp.Compare(t.ID, id) })
}
