package tweets_test

import (
	"slices"
	"testing"

	"github.com/chirp-social/chirp/backend/bench/load/internal/tweets"
)

func TestIDs(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    []int64
		wantErr bool
	}{
		{"Empty", `[]`, []int64{}, false},
		{"OneTweet", ` [ {"id":42,"author":"a","content":"c","created_at":"2025-01-01T00:00:00.000Z"} ] `, []int64{42}, false},
		{"OnlyTheTopLevelID", `[{"id":3,"content":"{\"id\":99}"},{"author":"x","id":2},{"id":1,"meta":{"id":7}}]`, []int64{3, 2, 1}, false},
		{"BigintAsString", `[{"id":"9007199254740993"}]`, []int64{9007199254740993}, false},
		{"Fraction", `[{"id":1.5}]`, nil, true},
		{"Null", `[{"id":null}]`, nil, true},
		{"Negative", `[{"id":-1}]`, nil, true},
		{"Missing", `[{"author":"no id"}]`, nil, true},
		{"AnErrorBody", `{"error":{"code":"internal","message":"x"}}`, nil, true},
		{"Truncated", `[{"id":1},`, nil, true},
		{"Nothing", ``, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tweets.IDs([]byte(c.body))
			if (err != nil) != c.wantErr || !slices.Equal(got, c.want) {
				t.Errorf("IDs(%q) = %v, %v; want %v (error: %v)", c.body, got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestCreatedID(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    int64
		wantErr bool
	}{
		{"Created", `{"id":17,"author":"load","edit_token":"t"}`, 17, false},
		{"AsString", `{"id":"18"}`, 18, false},
		{"NoID", `{"author":"x"}`, 0, true},
		{"AnArray", `[{"id":1}]`, 0, true},
		{"Zero", `{"id":0}`, 0, true},
		{"NotJSON", `oops`, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tweets.CreatedID([]byte(c.body))
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("CreatedID(%q) = %d, %v; want %d (error: %v)", c.body, got, err, c.want, c.wantErr)
			}
		})
	}
}
