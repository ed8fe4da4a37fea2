package httperror_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httperror"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        *chirp.Error
		wantStatus int
		wantBody   string
	}{
		{"RateLimited", chirp.Errorf(chirp.CodeRateLimited, "slow down"), http.StatusTooManyRequests,
			`{"error":{"code":"rate_limited","message":"slow down"}}`},
		{"ConflictIs409", chirp.Errorf(chirp.CodeConflict, "the handle @alice is taken"), http.StatusConflict,
			`{"error":{"code":"conflict","message":"the handle @alice is taken"}}`},
		{"InvalidHasFields", chirp.Invalid(map[string]string{"content": "empty"}), http.StatusUnprocessableEntity,
			`{"error":{"code":"invalid","message":"some fields are not valid","fields":{"content":"empty"}}}`},
		{"FieldsOnlyWhenInvalid", &chirp.Error{Code: chirp.CodeBadRequest, Message: "no", Fields: map[string]string{"a": "b"}}, http.StatusBadRequest,
			`{"error":{"code":"bad_request","message":"no"}}`},
		{"UnknownCodeIs500", &chirp.Error{Code: "mystery", Message: "?"}, http.StatusInternalServerError,
			`{"error":{"code":"mystery","message":"?"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httperror.Write(rec, tc.err)
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}
