package engine

import (
	"bufio"
	"net"
	"net/http"
	"strings"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httperror"
)

// JSONErrors wraps w for the library's Engine.IO server (socketio.Server.ServeHTTP) serving
// r, so that its error answers take the API's JSON error shape.
func JSONErrors(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	return &engineErrors{ResponseWriter: w, r: r}
}

// engineErrors stands between go-socket.io's engine and the client. The engine answers its
// errors with http.Error, as plain text that carries Go formatting artefacts ("invalid
// transport: %!s(<nil>)") and echoes what the client sent ("invalid sid value: <sid>"). Here
// such an answer becomes the API's JSON error shape, with a message of ours that echoes
// nothing. Answers Chirp writes itself (JSON already) and successful ones pass untouched, and
// a websocket upgrade can still hijack the connection.
type engineErrors struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool // the engine's text body is being dropped
	answered bool // a status has been written
	hijacked bool // gorilla has the connection: nothing may be written here any more
	// earlyData: the client sent bytes after its upgrade request before any answer, which
	// gorilla refuses by closing the connection it has just hijacked.
	earlyData bool
}

func (w *engineErrors) WriteHeader(status int) {
	if w.hijacked {
		// The engine answers a failed upgrade with http.Error even when gorilla had taken the
		// connection, and net/http logs each such write at WARN: a log any client could fill.
		return
	}
	if w.answered {
		// A second answer: gorilla refused a websocket handshake, and the engine answers it
		// again with http.Error. The first stands.
		w.replaced = true
		return
	}
	w.answered = true
	if status < 400 || w.replaced || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.replaced = true
	// The library answers its errors 400 or 5xx.
	e := chirp.Errorf(chirp.CodeBadRequest, "this socket.io request cannot be served; connect again")
	switch {
	case status >= 500:
		e = chirp.Errorf(chirp.CodeInternal, "something went wrong on our side; connect again")
	case w.r.URL.Query().Get("sid") != "":
		e.Message = "no such socket.io session (it has ended or never existed); connect again"
	}
	httperror.Write(w.ResponseWriter, e)
}

func (w *engineErrors) Write(b []byte) (int, error) {
	if w.replaced || w.hijacked {
		return len(b), nil
	}
	w.answered = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flushes).
func (w *engineErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack is what gorilla's upgrader asks for by type assertion.
func (w *engineErrors) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		w.earlyData = brw.Reader.Buffered() > 0
	}
	return c, brw, err
}

// sentEarlyData says the client sent data after its upgrade request without waiting for the
// answer (gorilla refuses such an upgrade).
func (w *engineErrors) sentEarlyData() bool { return w.earlyData }

// Flush is for long-poll answers.
func (w *engineErrors) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }
