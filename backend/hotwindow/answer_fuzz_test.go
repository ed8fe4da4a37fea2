package hotwindow

import (
	"cmp"
	"slices"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// Whatever the window holds and whatever is asked, an answer from memory is the database's:
// the database holds the window's tweets and, below its floor, others the window cannot know.
// Tweets are a guest's or one of two accounts' (by id), and a query reads the timeline or one
// of those accounts' profiles.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte{3, 5, 9, 12}, []byte{1, 2}, int64(4), uint8(2), int64(0), int64(0), false, int64(0), uint8(0))
	f.Add([]byte{1, 2, 3}, []byte{}, int64(0), uint8(20), int64(0), int64(1), true, int64(3), uint8(0))
	f.Add([]byte{3, 4, 6, 7, 9, 10}, []byte{1, 2, 4}, int64(4), uint8(2), int64(0), int64(0), false, int64(0), uint8(1))
	f.Add([]byte{3, 4, 6, 7, 9, 10}, []byte{1, 2, 4}, int64(4), uint8(1), int64(0), int64(4), true, int64(0), uint8(2))
	f.Fuzz(func(t *testing.T, above, below []byte, floor int64, limit uint8, since, minID int64, forward bool, maxID int64, profile uint8) {
		floor = max(floor, 0) % 300
		q := chirp.PageQuery{Limit: 1 + int(limit)%chirp.MaxPageSize, MaxID: chirp.NoMaxID, Forward: forward,
			AccountID: int64(profile % 3)}
		if maxID > 0 {
			q.MaxID = maxID % 600
		}
		if forward {
			q.MinID = max(minID, 0) % 600
		} else {
			q.SinceID = max(since, 0) % 600
		}
		if q.Validate() != nil {
			return
		}
		// The window: ascending ids above floor; the database: those and some at or below it.
		var window, all []chirp.Tweet
		seen := map[int64]bool{}
		for _, b := range below {
			if id := int64(b) % (floor + 1); id > 0 && !seen[id] {
				seen[id] = true
				all = append(all, tweetOf(id))
			}
		}
		for _, b := range above {
			if id := floor + 1 + int64(b); !seen[id] {
				seen[id] = true
				window = append(window, tweetOf(id))
			}
		}
		slices.SortFunc(window, func(a, b chirp.Tweet) int { return cmp.Compare(a.ID, b.ID) })
		all = append(all, window...)
		slices.SortFunc(all, func(a, b chirp.Tweet) int { return cmp.Compare(a.ID, b.ID) })

		got, err := answer(window, floor, q)
		if err != nil {
			return // to the database: always allowed
		}
		if want := testkit.Page(all, q); !slices.Equal(testkit.IDs(got), testkit.IDs(want)) {
			t.Fatalf("floor %d, query %+v: window %v, database %v", floor, q, testkit.IDs(got), testkit.IDs(want))
		}
	})
}

// tweetOf is tweet id, a guest's or account 1's or 2's by id.
func tweetOf(id int64) chirp.Tweet {
	t := chirp.Tweet{ID: id}
	if a := id % 3; a != 0 {
		t.Account = &chirp.TweetAccount{ID: a}
	}
	return t
}
