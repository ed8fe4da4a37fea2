// Package web serves Chirp's page: the static bundle in frontend/public, from its own origin
// (beside the API in `chirp dev`, for `make run`, or alone as `chirp web`; compose uses nginx
// with the same headers), with the security headers the page relies on and a /config.js that
// tells the page where the API is.
package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
)

// Config is what the page server needs.
type Config struct {
	// Root is the folder served (frontend/public).
	Root string
	// APIURL is the API's origin, such as http://localhost:8000. Empty means the page's own
	// host name on APIPort, with the page's scheme (localhost when the request's Host is not
	// a sane host, see pageHost).
	APIURL string
	// APIPort is the port the API listens on, the one it really has (PORT=0 picks one); needed
	// when APIURL is empty.
	APIPort int
}

// Server serves the page bundle.
type Server struct {
	root    *os.Root
	apiURL  *url.URL // nil: derived from each request's host, on apiPort
	apiPort string
}

// New opens the folder and checks the API address.
func New(cfg Config) (*Server, error) {
	info, err := os.Stat(cfg.Root)
	if err != nil || !info.IsDir() {
		return nil, fmt.Errorf("WEB_ROOT %q is not a folder: %v", cfg.Root, err)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("WEB_ROOT %q: %w", cfg.Root, err)
	}
	s := &Server{root: root, apiPort: strconv.Itoa(cfg.APIPort)}
	if cfg.APIURL != "" {
		u, err := ParseAPIURL(cfg.APIURL)
		if err != nil {
			root.Close()
			return nil, err
		}
		s.apiURL = u
	} else if cfg.APIPort < 1 || cfg.APIPort > 65535 {
		root.Close()
		return nil, fmt.Errorf("the API's port %d: without API_URL the page needs the port the API listens on (PORT, not 0)", cfg.APIPort)
	}
	return s, nil
}

// ParseAPIURL accepts an http(s) origin: scheme, host and optional port, nothing else.
func ParseAPIURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("API_URL %q: want the API's origin, such as http://localhost:8000", raw)
	}
	return u, nil
}

// Close releases the folder.
func (s *Server) Close() error { return s.root.Close() }

// api is the API origin for this request.
func (s *Server) api(r *http.Request) *url.URL {
	if s.apiURL != nil {
		return s.apiURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: pageHost(r.Host) + ":" + s.apiPort}
}

// pageHost is the host part of a request's Host header when the header is a host name (RFC 1123
// labels; dotted IPv4 addresses are such names) or an IPv6 address in brackets, either with an
// optional numeric port; for anything else it is "localhost". The Host is the client's to choose
// and goes into /config.js and the Content-Security-Policy, where "x;script-src:1" would add a
// directive: only these forms, whose characters are letters, digits, "-", "." and ":" inside
// brackets, are let through.
func pageHost(hostport string) string {
	const fallback = "localhost"
	host := hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
		host = hostport[:i]
		if port := hostport[i+1:]; !isPort(port) {
			return fallback
		}
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		addr, err := netip.ParseAddr(inner)
		if !ok || err != nil || !addr.Is6() || addr.Zone() != "" {
			return fallback
		}
		return host
	}
	if !isHostName(host) {
		return fallback
	}
	return host
}

// isPort accepts 0..65535 in decimal digits.
func isPort(s string) bool {
	_, err := strconv.ParseUint(s, 10, 16)
	return err == nil
}

// isHostName accepts a name of RFC 1123 labels: 1..63 letters, digits and hyphens, neither first
// nor last a hyphen, joined by dots, 253 characters at most (no trailing dot).
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// securityHeaders are sent with everything: scripts only from the page's origin and the API
// (the socket.io client), connections only to the API (XHR and websocket), nothing framed,
// nothing inline.
func (s *Server) securityHeaders(w http.ResponseWriter, api *url.URL) {
	ws := *api
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[api.Scheme]
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' " + api.String(),
		"style-src 'self'",
		"img-src 'self' data:",
		"font-src 'self'",
		"connect-src " + api.String() + " " + ws.String(),
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// ServeHTTP serves GET and HEAD of the bundle's files, index.html for "/", and /config.js.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api := s.api(r)
	s.securityHeaders(w, api)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The bundle has no build step and so no hashed names: every file is revalidated (cheaply,
	// by Last-Modified) so a new version shows at the next load.
	w.Header().Set("Cache-Control", "no-cache")
	name := path.Clean("/" + r.URL.Path)
	if name == "/config.js" {
		s.serveConfig(w, r, api)
		return
	}
	if name == "/" {
		name = "/index.html"
	}
	if hidden(name) {
		http.NotFound(w, r)
		return
	}
	f, err := s.root.Open(strings.TrimPrefix(name, "/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.IsDir() {
		http.NotFound(w, r) // no directory listings
		return
	}
	http.ServeContent(w, r, name, info.ModTime(), f)
}

// hidden refuses dotfiles and dot-folders anywhere in the path.
func hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

func (s *Server) serveConfig(w http.ResponseWriter, r *http.Request, api *url.URL) {
	cfg, _ := json.Marshal(map[string]string{"apiUrl": api.String()})
	body := "window.CHIRP_CONFIG = " + string(cfg) + ";\n"
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	w.Write([]byte(body))
}
