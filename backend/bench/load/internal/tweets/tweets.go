// Package tweets reads the tweet ids out of the API's answers, from Chirp and from the Node
// peer alike: the herd needs to know when a client's read holds the tweet a round posted.
package tweets

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// id is a tweet id: a JSON integer, or a decimal string, which is how node-postgres hands a
// bigint column to the Node peer.
type id int64

func (v *id) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return fmt.Errorf("tweet id %s is not a positive integer", b)
	}
	*v = id(n)
	return nil
}

// IDs returns the ids of a JSON array of tweets (GET /api/tweets), in order.
func IDs(body []byte) ([]int64, error) {
	var page []struct {
		ID *id `json:"id"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("want a JSON array of tweets: %w (body %q)", err, clip(body))
	}
	ids := make([]int64, len(page))
	for i, t := range page {
		if t.ID == nil {
			return nil, fmt.Errorf("tweet %d of %d has no id (body %q)", i, len(page), clip(body))
		}
		ids[i] = int64(*t.ID)
	}
	return ids, nil
}

// CreatedID returns the id of the tweet a POST /api/tweets answered with.
func CreatedID(body []byte) (int64, error) {
	var t struct {
		ID *id `json:"id"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.ID == nil {
		return 0, fmt.Errorf("want a tweet with an id, got %q", clip(body))
	}
	return int64(*t.ID), nil
}

// clip keeps error messages about a bad body to one line's worth of it.
func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
