package chirp

import (
	"errors"
	"fmt"
)

// Code is the machine-readable kind of an error the product answers with. The HTTP layer maps
// each code to exactly one status.
type Code string

// The product's error codes.
const (
	CodeBadRequest           Code = "bad_request"
	CodeUnauthorized         Code = "unauthorized"
	CodeForbidden            Code = "forbidden"
	CodeNotFound             Code = "not_found"
	CodeConflict             Code = "conflict" // what the request would create is there already: a taken handle
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodeTooLarge             Code = "too_large"
	CodeRequestTimeout       Code = "request_timeout"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeInvalid              Code = "invalid"
	CodeRateLimited          Code = "rate_limited"
	CodeInternal             Code = "internal"
	CodeUnavailable          Code = "unavailable"
	// CodeClientClosed is never sent: the client went away before its answer was ready. It
	// names the request in the logs and the metrics, apart from the failures of the service.
	CodeClientClosed Code = "client_closed"
)

// Error is an error the product can show to a client: a code, a message meant for people, and
// for CodeInvalid the problem with each field.
type Error struct {
	Code    Code
	Message string
	Fields  map[string]string
	// Cause is what went wrong underneath, for logs; clients never see it.
	Cause error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if len(e.Fields) > 0 {
		s += fmt.Sprintf(" %v", e.Fields)
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the cause, so that errors.Is and errors.As see through an *Error.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a CodeInvalid error naming the problem with each field.
func Invalid(fields map[string]string) *Error {
	return &Error{Code: CodeInvalid, Message: "some fields are not valid", Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, or "" when there is none (an
// unexpected failure, which clients see as CodeInternal).
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// NotFound is the error for a tweet that does not exist (any more).
func NotFound(id int64) *Error {
	return Errorf(CodeNotFound, "tweet %d not found", id)
}

// ErrOutcomeUnknown marks a write that failed while its commit was under way: it may have been
// stored all the same. A store's write failure without it stored nothing.
var ErrOutcomeUnknown = errors.New("the write may have been stored")

// Unavailable is the error for a database (or other dependency) that does not answer; cause is
// kept for the logs.
func Unavailable(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: "the service is unavailable, try again shortly", Cause: cause}
}
