// Package etag is the If-None-Match rule of the answers Chirp lets caches revalidate.
package etag

import "strings"

// Matches reports whether an If-None-Match header names tag (compared weakly, as RFC 9110
// has GET and HEAD compare) or is "*".
func Matches(ifNoneMatch, tag string) bool {
	for t := range strings.SplitSeq(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}
