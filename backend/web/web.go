// Package web serves Chirp's page: the static bundle in frontend/public, from its own origin
// (as `chirp web`, for `make run`; compose uses nginx with the same headers), with the security
// headers the page relies on and a /config.js that tells the page where the API is.
package web

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
)

// Config is what the page server needs.
type Config struct {
	// Root is the folder served (frontend/public).
	Root string
	// APIURL is the API's origin, such as http://localhost:8000. Empty means the page's own
	// host name on port 8000, with the page's scheme.
	APIURL string
}

// DefaultAPIPort is the API's port when APIURL is not configured.
const DefaultAPIPort = "8000"

// Server serves the page bundle.
type Server struct {
	root   *os.Root
	apiURL *url.URL // nil: derived from each request's host
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
	s := &Server{root: root}
	if cfg.APIURL != "" {
		u, err := ParseAPIURL(cfg.APIURL)
		if err != nil {
			return nil, err
		}
		s.apiURL = u
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
	host := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") { // an IPv6 literal
		host = "[" + host + "]"
	}
	return &url.URL{Scheme: scheme, Host: host + ":" + DefaultAPIPort}
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
