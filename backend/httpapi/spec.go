package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend/etag"
)

// openAPIDocument describes the whole HTTP API (OpenAPI 3.1). The package's tests hold every
// answer they get to it, so it cannot drift from the handlers unnoticed.
//
//go:embed openapi.json
var openAPIDocument []byte

// specMaxAge is how long a client may keep the document without asking again: it changes only
// with the server's version, and an ETag makes asking again cheap.
const specMaxAge = 300

// specHandler serves the document: the one /api answer that may be cached (responseHeaders set
// no-store on every other), with an ETag so that a cache revalidates cheaply.
func specHandler() gin.HandlerFunc {
	sum := sha256.Sum256(openAPIDocument)
	tag := `"` + hex.EncodeToString(sum[:16]) + `"`
	size := strconv.Itoa(len(openAPIDocument))
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(specMaxAge))
		h.Set("ETag", tag)
		if etag.Matches(c.GetHeader("If-None-Match"), tag) {
			c.Status(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", size)
		c.Status(http.StatusOK)
		if c.Request.Method == http.MethodHead {
			return
		}
		c.Writer.Write(openAPIDocument)
	}
}
