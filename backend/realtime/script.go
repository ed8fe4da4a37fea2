package realtime

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/etag"
	"github.com/chirp-social/chirp/backend/httperror"
)

// socketIOScript is socket.io-client 2.4.0's browser build (dist/socket.io.js, MIT, licence in
// client/LICENSE), byte for byte as npm ships it: the 2.x client speaks Engine.IO 3 like
// go-socket.io v1 (3.x and 4.x clients cannot connect), and 2.4.0 passed the default transport
// mode where 2.5.0 sometimes did not.
//
//go:embed client/socket.io.js
var socketIOScript []byte

// ClientScriptPath is where pages load the client from, as with Node's socket.io.
const ClientScriptPath = "/socket.io/socket.io.js"

// scriptFile serves the client script with an ETag (so browsers revalidate cheaply), no-cache
// (so a new server's client is picked up at once) and gzip when asked. The plain and the
// gzipped file are two representations, each with its own strong ETag: one tag for both would
// let a cache answer "not modified" with the bytes of the other.
type scriptFile struct {
	plain, gzipped         []byte
	plainETag, gzippedETag string
}

func newScriptFile(script []byte) *scriptFile {
	sum := sha256.Sum256(script)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // only fails for a bad level
	zw.Write(script)
	zw.Close()
	tag := hex.EncodeToString(sum[:16])
	return &scriptFile{plain: script, gzipped: gz.Bytes(), plainETag: `"` + tag + `"`, gzippedETag: `"` + tag + `-gzip"`}
}

func (f *scriptFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httperror.Write(w, chirp.Errorf(chirp.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, ClientScriptPath))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	body, tag := f.plain, f.plainETag
	gzipped := acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gzipped {
		body, tag = f.gzipped, f.gzippedETag
	}
	h.Set("ETag", tag)
	if etag.Matches(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gzipped {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
