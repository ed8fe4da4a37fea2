package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// The document is served whole, cacheable (the one /api answer that is), with an ETag that a
// client revalidates against.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{})
	r := s.do("GET", "/api/openapi.json", "", "")
	if r.status != 200 || r.body != string(httpapi.OpenAPIDocument()) {
		t.Fatalf("%d, %d bytes", r.status, len(r.body))
	}
	etag, cache := r.header.Get("ETag"), r.header.Get("Cache-Control")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) || cache != "public, max-age=300" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, cache)
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(r.body))
	if err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("not an OpenAPI 3.1 document: %v", err)
	}
	tests := []struct {
		name, method, ifNoneMatch string
		status                    int
		body                      bool
	}{
		{"Revalidated", "GET", etag, http.StatusNotModified, false},
		{"RevalidatedWeakly", "GET", "W/" + etag, http.StatusNotModified, false},
		{"Changed", "GET", `"0123"`, http.StatusOK, true},
		{"Head", "HEAD", "", http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.on(t)
			var headers []string
			if tt.ifNoneMatch != "" {
				headers = []string{"If-None-Match", tt.ifNoneMatch}
			}
			r := s.do(tt.method, "/api/openapi.json", "", "", headers...)
			if r.status != tt.status || (r.body != "") != tt.body || r.header.Get("ETag") != etag {
				t.Fatalf("%d, %d bytes, ETag %q", r.status, len(r.body), r.header.Get("ETag"))
			}
		})
	}
	// Every other /api answer stays uncacheable.
	if r := s.do("GET", "/api/tweets", "", ""); r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("list Cache-Control %q", r.header.Get("Cache-Control"))
	}
}

// Every route the router has is in the document, with each of its methods: a route added
// without documenting it fails here even before a test calls it.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	engine, ok := httpapi.New(httpapi.Config{Store: memStore{}, Accounts: memAccounts{}, Passwords: plainPasswords{}, Realtime: okHandler()}).(*gin.Engine)
	if !ok {
		t.Fatal("httpapi.New is not a Gin engine any more: list its routes another way")
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, route := range engine.Routes() {
		paths := []string{param.ReplaceAllString(route.Path, "{$1}")}
		if route.Path == "/socket.io/*any" {
			paths = []string{"/socket.io/", "/socket.io/socket.io.js"}
		}
		for _, path := range paths {
			item := doc.Paths.Value(path)
			if path == "/socket.io/socket.io.js" && route.Method != "GET" && route.Method != "HEAD" {
				continue // the script is GET (and HEAD) only; the rest are the endpoint's
			}
			if item == nil || item.GetOperation(route.Method) == nil {
				if route.Method == "HEAD" && strings.HasPrefix(path, "/socket.io/") {
					continue // HEAD of a polling URL is the library's 400, not an operation
				}
				t.Errorf("%s %s is routed but not in openapi.json", route.Method, path)
			}
		}
	}
}

// HEAD of every GET route answers as GET would, without the body (RFC 9110): monitors and
// link checkers use it, and a 405 or 404 there tells them the route is broken. The document
// lists each HEAD beside its GET. The polling endpoint is the exception: a HEAD there is not
// a handshake (the library answers 400).
func TestHeadAnswersAsGet(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		if item.Get != nil && item.Head == nil && path != "/socket.io/" {
			t.Errorf("openapi.json has GET %s but not HEAD", path)
		}
	}
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{Realtime: okHandler()})
	tw, _ := s.post("alice", "hello")
	token := s.signUp("alice", "Alice", alicePassword)
	s.postAs(token, "signed in")
	for _, path := range []string{"/healthz", "/readyz", "/api/openapi.json", "/api/tweets", "/api/tweets?limit=0",
		"/api/tweets/" + itoa(tw.ID), "/api/tweets/999999", "/api/tweets/x", "/api/accounts/alice", "/api/accounts/nobody",
		"/api/accounts/alice/tweets?limit=1", "/api/me", "/api/sessions", "/api/me/passkeys"} {
		t.Run(path, func(t *testing.T) {
			s := s.on(t)
			get, head := s.do("GET", path, "", "", bearerOf(token)...), s.do("HEAD", path, "", "", bearerOf(token)...)
			if head.status != get.status || head.body != "" {
				t.Fatalf("HEAD: %d, %d bytes; GET: %d", head.status, len(head.body), get.status)
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "Link"} {
				if head.header.Get(h) != get.header.Get(h) {
					t.Errorf("%s: HEAD %q, GET %q", h, head.header.Get(h), get.header.Get(h))
				}
			}
		})
	}
}
