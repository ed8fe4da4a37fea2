// Package httperror is the one table from the product's error codes (chirp.Code) to HTTP
// statuses, and the JSON body every error answer carries: {"error":{"code","message"[,"fields"]}}.
// The API (through Gin) and the socket paths (plain net/http) answer with it alike.
package httperror

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/chirp-social/chirp/backend"
)

// StatusClientClosed is the status the access log and the metrics give a request whose client
// went away before its answer was ready (nginx's 499): nothing is answered to it.
const StatusClientClosed = 499

var statusOf = map[chirp.Code]int{
	chirp.CodeBadRequest:           http.StatusBadRequest,
	chirp.CodeUnauthorized:         http.StatusUnauthorized,
	chirp.CodeForbidden:            http.StatusForbidden,
	chirp.CodeNotFound:             http.StatusNotFound,
	chirp.CodeConflict:             http.StatusConflict,
	chirp.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	chirp.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	chirp.CodeRequestTimeout:       http.StatusRequestTimeout,
	chirp.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	chirp.CodeInvalid:              http.StatusUnprocessableEntity,
	chirp.CodeRateLimited:          http.StatusTooManyRequests,
	chirp.CodeInternal:             http.StatusInternalServerError,
	chirp.CodeUnavailable:          http.StatusServiceUnavailable,
	chirp.CodeClientClosed:         StatusClientClosed,
}

// Status is the HTTP status of an error with the code; a code the table lacks is a 500.
func Status(code chirp.Code) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// Body is the JSON body of an error answer.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is what Body says of the error.
type Detail struct {
	Code    chirp.Code        `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// BodyOf is the body that answers e: the per-field problems only for CodeInvalid, and never
// e's cause, which is for the logs.
func BodyOf(e *chirp.Error) Body {
	b := Body{Error: Detail{Code: e.Code, Message: e.Message}}
	if e.Code == chirp.CodeInvalid {
		b.Error.Fields = e.Fields
	}
	return b
}

// Write answers e on a plain net/http response: its status, and its body as JSON.
func Write(w http.ResponseWriter, e *chirp.Error) {
	body, _ := json.Marshal(BodyOf(e)) // strings and a map of strings always encode
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(Status(e.Code))
	w.Write(body)
}
