package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/chirp-social/chirp/backend/httpapi"
)

// contract is the API's OpenAPI document, loaded once for the package's tests.
type contract struct {
	router routers.Router
	errors *openapi3.Schema // the error body, for answers on undocumented routes
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{router: router, errors: doc.Components.Schemas["Error"].Value}, nil
})

// checked wraps the API's handler so that every answer it gives in a test is held to the
// OpenAPI document (httpapi/openapi.json): every response, and every request the API accepted
// (a 2xx), fails the test when the document does not describe it. Requests refused on purpose
// (malformed bodies, bad queries) are not themselves checked, only their answers. On a path or
// method the document does not have, the answer must be an error body (404, 405).
func checked(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sent bytes.Buffer
		if r.Body != nil {
			// Teed, not read ahead: the handler must see the body arrive as the client sends
			// it (the body deadline tests trickle it).
			r.Body = teeBody{Reader: io.TeeReader(r.Body, &sent), Closer: r.Body}
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if r.Body != nil && rec.status()/100 == 2 {
			// An accepted request is checked whole, what the handler left unread included.
			io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		}
		if rec.status() == httpapi.StatusClientClosed {
			return // the client had gone: nothing was answered to it
		}
		if err := c.check(r, sent.Bytes(), rec.status(), w.Header(), rec.body.Bytes()); err != nil {
			t.Errorf("%s %s: %v", r.Method, r.URL, err)
		}
	})
}

// check holds one exchange to the document.
func (c *contract) check(r *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	req.ContentLength = int64(len(reqBody))
	route, params, err := c.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		if status/100 == 2 || status/100 == 3 {
			return fmt.Errorf("answered %d on a route the OpenAPI document does not have", status)
		}
		return c.checkError(r.Method, header, body)
	}
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearer, MultiError: true},
	}
	if status/100 == 2 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("the API accepted (%d) a request the OpenAPI document does not allow: %w", status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("answer %d does not match the OpenAPI document: %w\nbody: %.500s", status, err, body)
	}
	return nil
}

// checkError holds an answer on an undocumented route to the document's error body.
func (c *contract) checkError(method string, header http.Header, body []byte) error {
	if method == http.MethodHead && len(body) == 0 {
		return nil
	}
	if media, _, _ := mime.ParseMediaType(header.Get("Content-Type")); media != "application/json" {
		return fmt.Errorf("an answer on an undocumented route is %q, not a JSON error", header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("an answer on an undocumented route is not JSON: %w", err)
	}
	if err := c.errors.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("an answer on an undocumented route is not the error body: %w\nbody: %.500s", err, body)
	}
	return nil
}

// bearer is the document's editToken scheme: the request names a bearer token (which one is
// right is the API's to say).
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, _ := strings.Cut(strings.TrimSpace(in.RequestValidationInput.Request.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

type teeBody struct {
	io.Reader
	io.Closer
}

// recorder passes a response through and keeps a copy of its status and body.
type recorder struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func (r *recorder) Flush() { http.NewResponseController(r.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection (the handlers' write deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// The contract catches an API that drifts from the document: each handler here answers as the
// real one might after a change nobody documented, and the check must refuse it.
func TestContractCatchesUndocumentedAnswers(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	const tweet = `{"id":1,"author":"ann","content":"hi","created_at":"2026-11-25T10:00:00.000Z","updated_at":"2026-11-25T10:00:00.000Z","account":null}`
	accountTweet := strings.Replace(tweet, `"account":null`, `"account":{"handle":"ann","display_name":"Ann"}`, 1)
	answer := func(status int, body string, headers ...string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("X-Request-ID", "test-request")
			for i := 0; i+1 < len(headers); i += 2 {
				w.Header().Set(headers[i], headers[i+1])
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
		})
	}
	tests := []struct {
		name, method, path, reqBody string
		handler                     http.Handler
		wrong                       bool
	}{
		{"DocumentedList", "GET", "/api/tweets", "", answer(200, "["+tweet+"]"), false},
		{"IDAsString", "GET", "/api/tweets", "", answer(200, `[`+strings.Replace(tweet, `"id":1`, `"id":"1"`, 1)+`]`), true},
		{"ExtraField", "GET", "/api/tweets/1", "", answer(200, strings.Replace(tweet, `}`, `,"likes":3}`, 1)), true},
		{"TimeWithoutMilliseconds", "GET", "/api/tweets/1", "", answer(200, strings.ReplaceAll(tweet, ".000Z", "Z")), true},
		{"UndocumentedStatus", "GET", "/api/tweets/1", "", answer(418, `{"error":{"code":"internal","message":"teapot"}}`), true},
		{"CodeOfAnotherStatus", "GET", "/api/tweets/1", "", answer(404, `{"error":{"code":"invalid","message":"x"}}`), true},
		{"UnknownErrorCode", "GET", "/api/tweets/1", "", answer(404, `{"error":{"code":"gone","message":"x"}}`), true},
		{"CreatedWithoutLocation", "POST", "/api/tweets", `{"author":"ann","content":"hi"}`,
			answer(201, strings.Replace(tweet, `}`, `,"edit_token":"t"}`, 1)), true},
		{"CreatedWithLocation", "POST", "/api/tweets", `{"author":"ann","content":"hi"}`,
			answer(201, strings.Replace(tweet, `}`, `,"edit_token":"t"}`, 1), "Location", "/api/tweets/1"), false},
		{"RateLimitedWithoutRetryAfter", "POST", "/api/tweets", `{}`, answer(429, `{"error":{"code":"rate_limited","message":"x"}}`), true},
		{"AcceptedAnUndocumentedBody", "POST", "/api/tweets", `{"author":"ann"}`,
			answer(201, strings.Replace(tweet, `}`, `,"edit_token":"t"}`, 1), "Location", "/api/tweets/1"), true},
		{"AccountTweet", "GET", "/api/tweets/1", "", answer(200, accountTweet), false},
		{"TweetWithoutAccount", "GET", "/api/tweets/1", "", answer(200, strings.Replace(tweet, `,"account":null`, "", 1)), true},
		{"AccountWithoutHandle", "GET", "/api/tweets/1", "", answer(200, strings.Replace(accountTweet, `"handle":"ann",`, "", 1)), true},
		{"AccountTweetCreated", "POST", "/api/tweets", `{"content":"hi"}`, answer(201, accountTweet, "Location", "/api/tweets/1"), false},
		{"SignedInWithoutToken", "POST", "/api/sessions", `{"handle":"ann","password":"long enough"}`,
			answer(201, `{"account":{"handle":"ann","display_name":"Ann","created_at":"2026-11-25T10:00:00.000Z"}}`), true},
		{"ConflictAs422", "POST", "/api/accounts", `{}`, answer(409, `{"error":{"code":"invalid","message":"x"}}`), true},
		{"UndocumentedRoute", "GET", "/api/likes", "", answer(200, `[]`), true},
		{"NotFoundAsText", "GET", "/nowhere", "", answer(404, `not found`), true},
		{"NotFoundAsError", "GET", "/nowhere", "", answer(404, `{"error":{"code":"not_found","message":"no such route"}}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.reqBody))
			if tt.reqBody != "" {
				req.Header.Set("Content-Type", jsonType)
			}
			w := httptest.NewRecorder()
			tt.handler.ServeHTTP(w, req)
			err := c.check(req, []byte(tt.reqBody), w.Code, w.Header(), w.Body.Bytes())
			if (err != nil) != tt.wrong {
				t.Fatalf("wrong answer %v, check said %v", tt.wrong, err)
			}
		})
	}
}
