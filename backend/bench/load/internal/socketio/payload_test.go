package socketio

import (
	"errors"
	"slices"
	"testing"
)

func TestSplitPayload(t *testing.T) {
	cases := []struct {
		name    string
		dialect Dialect
		body    string
		want    []string
		wantErr bool
	}{
		{"EIO3Handshake", EIO3, `12:0{"sid":"x"}2:40`, []string{`0{"sid":"x"}`, `40`}, false},
		{"EIO3Event", EIO3, `19:42["newTweet",true]`, []string{`42["newTweet",true]`}, false},
		{"EIO3Noop", EIO3, `1:6`, []string{`6`}, false},
		{"EIO3LengthInUTF16Units", EIO3, "5:42\"é\"" + "1:3", []string{"42\"é\"", "3"}, false},
		{"EIO3SurrogatePairIsTwoUnits", EIO3, "6:42\"😀\"", []string{"42\"😀\""}, false},
		{"EIO3LengthPastTheEnd", EIO3, `20:42["newTweet",true]`, nil, true},
		{"EIO3LengthSplitsAPair", EIO3, "4:42\"😀\"", nil, true},
		{"EIO3NoLength", EIO3, `42["newTweet",true]`, nil, true},
		{"EIO3ZeroLength", EIO3, `0:`, nil, true},
		{"EIO3Empty", EIO3, ``, nil, true},
		{"EIO4Handshake", EIO4, `0{"sid":"x","pingInterval":25000}`, []string{`0{"sid":"x","pingInterval":25000}`}, false},
		{"EIO4Several", EIO4, "2\x1e42[\"newTweet\",true]\x1e6", []string{"2", `42["newTweet",true]`, "6"}, false},
		{"EIO4Empty", EIO4, ``, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.dialect.SplitPayload([]byte(c.body))
			if (err != nil) != c.wantErr {
				t.Fatalf("SplitPayload(%q) error %v, want error: %v", c.body, err, c.wantErr)
			}
			if err != nil && !errors.Is(err, errBadPayload) {
				t.Errorf("error %v is not errBadPayload", err)
			}
			var s []string
			for _, p := range got {
				s = append(s, string(p))
			}
			if !slices.Equal(s, c.want) {
				t.Errorf("SplitPayload(%q) = %q, want %q", c.body, s, c.want)
			}
		})
	}
}

func TestJoinPayload(t *testing.T) {
	cases := []struct {
		name    string
		dialect Dialect
		packets []string
		want    string
	}{
		{"EIO3Ping", EIO3, []string{"2"}, "1:2"},
		{"EIO3Two", EIO3, []string{"40", `42["newTweet",true]`}, `2:4019:42["newTweet",true]`},
		{"EIO3CountsUTF16Units", EIO3, []string{"42\"😀é\""}, "7:42\"😀é\""},
		{"EIO4Pong", EIO4, []string{"3"}, "3"},
		{"EIO4Two", EIO4, []string{"40", "3"}, "40\x1e3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.dialect.JoinPayload(c.packets...)
			if string(got) != c.want {
				t.Fatalf("JoinPayload(%q) = %q, want %q", c.packets, got, c.want)
			}
			back, err := c.dialect.SplitPayload(got)
			if err != nil || len(back) != len(c.packets) {
				t.Fatalf("SplitPayload(JoinPayload) = %q, %v", back, err)
			}
		})
	}
}
