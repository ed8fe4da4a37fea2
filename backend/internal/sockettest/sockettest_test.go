package sockettest_test

import (
	"slices"
	"testing"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
)

// A payload is read back as the packets it framed, lengths counted in UTF-16 units as a
// JavaScript client counts them.
func TestPayloadRoundTrip(t *testing.T) {
	packets := []string{`42["newTweet",true]`, "6", "4😀é", "2probe"}
	body := sockettest.Payload(packets...)
	if want := `19:42["newTweet",true]1:64:4😀é6:2probe`; body != want {
		t.Fatalf("Payload: %q, want %q", body, want)
	}
	got, err := sockettest.Packets(body)
	if err != nil || !slices.Equal(got, packets) {
		t.Fatalf("Packets: %q %v, want %q", got, err, packets)
	}
	for _, bad := range []string{"x", "3:42", "0:", ":4", "2:4"} {
		if _, err := sockettest.Packets(bad); err == nil {
			t.Errorf("Packets(%q) read a malformed payload", bad)
		}
	}
}
