package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// settingsJSON is what a page must know of the server before it draws the composer: whether
// guests may post (GUEST_POSTS), or the name field gives way to "Sign in to post".
type settingsJSON struct {
	GuestPosts bool `json:"guest_posts"`
}

// settingsMaxAge is how long a browser may keep the settings: they change only with a restart,
// and a page that drew a name field a minute too long is answered 401 with the reason.
const settingsMaxAge = "public, max-age=60"

func settings(cfg Config) gin.HandlerFunc {
	body := settingsJSON{GuestPosts: !cfg.SignedInPostsOnly}
	return func(c *gin.Context) {
		c.Header("Cache-Control", settingsMaxAge)
		c.PureJSON(http.StatusOK, body)
	}
}
