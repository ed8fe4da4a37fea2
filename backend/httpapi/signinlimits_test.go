package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/ratelimit"
)

// signInFrom sends a sign-in from the peer remote, through X-Forwarded-For xff when set.
func (r *router) signInFrom(remote, xff, handle, password string) response {
	r.t.Helper()
	b, _ := json.Marshal(map[string]string{"handle": handle, "password": password})
	return r.send(remote, xff, "POST", "/api/sessions", jsonType, string(b))
}

// send sends method path with body of contentType from the peer remote, through
// X-Forwarded-For xff when set.
func (r *router) send(remote, xff, method, path, contentType, body string) response {
	r.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", contentType)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return response{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// retryAfterIn reports whether the answer's Retry-After is whole seconds from least to most.
func retryAfterIn(r response, least, most int) bool {
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	return err == nil && n >= least && n <= most
}

func TestSignInLimits(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}
	signUp := func(r *router, handle string) {
		r.t.Helper()
		b, _ := json.Marshal(map[string]string{"handle": handle, "display_name": handle, "password": alicePassword})
		if res := r.send("192.0.2.1:1000", "", "POST", "/api/accounts", jsonType, string(b)); res.status != http.StatusCreated {
			r.t.Fatalf("sign up: %d %s", res.status, res.body)
		}
	}
	t.Run("OneHandleFromManyAddresses", func(t *testing.T) {
		// 20 an hour with a burst of 10, whatever address the guesses come from: a botnet
		// gets no more guesses at alice's password than one machine.
		r := newRouter(t, httpapi.Config{SignInAccountLimit: ratelimit.NewPerHour(20, 10), Clients: clientaddr.New(proxy)})
		signUp(r, "alice")
		for i := range 10 {
			xff := "127.0.0." + itoa(int64(i+1))
			if res := r.signInFrom("10.0.0.1:443", xff, "alice", "guess number "+itoa(int64(i))); res.status != http.StatusUnauthorized {
				t.Fatalf("guess %d from %s: %d %s", i, xff, res.status, res.body)
			}
		}
		for _, handle := range []string{"alice", "ALICE", "@Alice"} {
			res := r.signInFrom("10.0.0.1:443", "127.0.0.99", handle, alicePassword)
			// 20 an hour: a token every 180 s, less the time the guesses took (argon2id under
			// the race detector is slow).
			if res.status != http.StatusTooManyRequests || res.errorCode(t) != "rate_limited" || !retryAfterIn(res, 120, 180) ||
				!strings.Contains(res.body, "too many sign-in attempts for @alice: try again in "+res.header.Get("Retry-After")+" s") {
				t.Fatalf("%s past the budget, with the right password: %d %s %v", handle, res.status, res.body, res.header)
			}
		}
		if res := r.signInFrom("10.0.0.1:443", "127.0.0.99", "bob", "a guess"); res.status != http.StatusUnauthorized {
			t.Fatalf("another handle: %d %s", res.status, res.body)
		}
		if logs := r.logs.String(); !strings.Contains(logs, "limit=signin_account client=alice") {
			t.Fatalf("want the bite logged:\n%s", logs)
		}
	})
	t.Run("OneAddressAcrossManyHandles", func(t *testing.T) {
		r := newRouter(t, httpapi.Config{SignInLimit: ratelimit.New(10, 10), Clients: clientaddr.New(proxy)})
		signUp(r, "alice")
		for i := range 10 {
			if res := r.signInFrom("10.0.0.1:443", "203.0.113.7", "user"+itoa(int64(i)), "a guess"); res.status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d %s", i, res.status, res.body)
			}
		}
		res := r.signInFrom("10.0.0.1:443", "203.0.113.7", "alice", alicePassword)
		if res.status != http.StatusTooManyRequests || !retryAfterIn(res, 1, 6) || !strings.Contains(res.body, "from your address") {
			t.Fatalf("past the address's budget: %d %s", res.status, res.body)
		}
		if res := r.signInFrom("203.0.113.7:1000", "", "alice", alicePassword); res.status != http.StatusTooManyRequests {
			t.Fatalf("the same address as a peer: %d", res.status)
		}
		if res := r.signInFrom("10.0.0.1:443", "203.0.113.8", "alice", alicePassword); res.status != http.StatusCreated {
			t.Fatalf("another address: %d %s", res.status, res.body)
		}
		if logs := r.logs.String(); !strings.Contains(logs, "limit=signin client=203.0.113.7") {
			t.Fatalf("want the bite logged:\n%s", logs)
		}
	})
	t.Run("SignUpsCountAsWrites", func(t *testing.T) {
		r := newRouter(t, httpapi.Config{WriteLimit: ratelimit.New(30, 1)})
		signUp(r, "alice")
		b := `{"handle":"bob","display_name":"Bob","password":"` + alicePassword + `"}`
		if res := r.send("192.0.2.1:1000", "", "POST", "/api/accounts", jsonType, b); res.status != http.StatusTooManyRequests {
			t.Fatalf("a second sign-up: %d %s", res.status, res.body)
		}
	})
	t.Run("OffWhenNil", func(t *testing.T) {
		r := newRouter(t, httpapi.Config{})
		for i := range 25 {
			if res := r.signInFrom("192.0.2.1:1000", "", "alice", "a guess"); res.status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i, res.status)
			}
		}
	})
}
