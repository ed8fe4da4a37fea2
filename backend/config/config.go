// Package config reads Chirp's settings from the environment. Every variable is listed in
// the README's configuration table; an invalid value stops start-up with a message naming it.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/dburl"
	"github.com/chirp-social/chirp/backend/passkeys"
)

// Config is the server's configuration.
type Config struct {
	Host            string
	Port            int
	LogFormat       string // "text" or "json"
	LogLevel        slog.Level
	DatabaseURL     string   // postgres://…, sqlite:///path, or "" for the default SQLite file
	AllowedOrigins  []string // ["*"], or exact origins such as https://chirp.example
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	// PingInterval is how often socket clients ping; PingTimeout how long after a client's
	// last ping the server gives up on it.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// WebPort, WebRoot and APIURL configure the page server: `chirp dev` (make run) or
	// `chirp web`.
	WebPort int
	WebRoot string
	APIURL  string // the API's origin as the page should use it; checked by package web
	// SocketMaxPerIP caps the open socket sessions of one client address; SocketMaxTotal caps
	// all of them, by default at what the file descriptor limit leaves after the API and the
	// database (SocketTotalFor). Zero: no cap, for load tests.
	SocketMaxPerIP int
	SocketMaxTotal int
	// SocketMaxPerNet caps the open socket sessions of one network: the addresses that share
	// their first SocketNetPrefixV4 bits (IPv4) or SocketNetPrefixV6 bits (IPv6). By default
	// an eighth of SocketMaxTotal (at least SocketMaxPerIP), so that filling the process takes
	// at least eight networks. Zero: no cap.
	SocketMaxPerNet                      int
	SocketNetPrefixV4, SocketNetPrefixV6 int
	// SocketMaxMessageBytes caps one message a socket client sends (a websocket message, a
	// polling POST body). MaxHeaderBytes caps a request's header block (431 past it; net/http
	// reads up to 4 KiB past the cap before it refuses, its buffer's slack). Neither can be off.
	SocketMaxMessageBytes int
	MaxHeaderBytes        int
	// FileLimit is the process's file descriptor limit (RLIMIT_NOFILE), 0 if it is unknown.
	FileLimit uint64
	// ConnMaxPerIP caps the TCP connections of one client address (the peer; a trusted
	// proxy is held only to the total), ConnMaxTotal all of them, by default below the file
	// descriptor limit with room for the database and files (ConnTotalFor). Zero: no cap.
	ConnMaxPerIP int
	ConnMaxTotal int
	// IdleTimeout is how long a kept-alive connection may wait for its next request.
	IdleTimeout time.Duration
	// DebugAddr, when set, is a separate listener for net/http/pprof (profiling); keep it on
	// a loopback address.
	DebugAddr string
	// MetricsAddr, when set, is a separate listener that serves /metrics (Prometheus); never
	// the public port.
	MetricsAddr string
	// TrustedProxies are the peers whose X-Forwarded-For names the client (clientaddr).
	TrustedProxies []netip.Prefix
	// WritesPerMinute and WriteBurst are each client's budget of API writes; 0 in either
	// turns the limit off.
	WritesPerMinute int
	WriteBurst      int
	// SignInPerMinute is each client address's budget of sign-in attempts, and
	// SignInAccountPerHour each handle's, from any address (both with a burst of SignInBurst);
	// 0 turns either off.
	SignInPerMinute      int
	SignInAccountPerHour int
	// SessionMaxIdle is how long a session lasts since its last use.
	SessionMaxIdle time.Duration
	// GuestPosts lets anyone post with a display name and get an edit token; false takes
	// posts only from signed-in accounts (a public deployment).
	GuestPosts bool
	// WebAuthnRPID and WebAuthnOrigins are the passkeys' relying party (WEBAUTHN_RP_ID) and
	// the page origins that may use them (WEBAUTHN_ORIGINS), checked by package passkeys.
	WebAuthnRPID    string
	WebAuthnOrigins []string
	// EventBus is how this process hears other processes' writes: EventBusPostgres (LISTEN/
	// NOTIFY on the shared database) or EventBusLocal (one process, nothing to hear).
	EventBus string
	// EventBusHeartbeat is how long a listener may hear nothing on the bus before it sends a
	// heartbeat; hearing nothing for three of them, it counts itself down (eventbus).
	EventBusHeartbeat time.Duration
}

// commaList splits a comma-separated value, trimming each item and dropping empty ones.
func commaList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// SignInBurst is how many sign-in attempts an address or a handle may make at once before its
// rate applies: enough for a few mistyped passwords in a row.
const SignInBurst = 10

// The event buses.
const (
	EventBusPostgres = "postgres"
	EventBusLocal    = "local"
)

// Load reads the configuration through getenv (os.Getenv in production). It reports every
// invalid variable at once.
func Load(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	bad := func(name, value, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, value, want))
	}
	c := Config{
		Host:        get("HOST", "0.0.0.0"),
		LogFormat:   get("LOG_FORMAT", "text"),
		DatabaseURL: get("DATABASE_URL", ""),
		DebugAddr:   get("DEBUG_ADDR", ""),
		MetricsAddr: get("METRICS_ADDR", ""),
		WebRoot:     get("WEB_ROOT", "frontend/public"),
		APIURL:      get("API_URL", ""),
	}
	if strings.ContainsAny(c.Host, " /[]") {
		bad("HOST", c.Host, "want an IP address or host name to listen on, such as 0.0.0.0 or 127.0.0.1")
	}
	c.Port = portNumber(get, "PORT", "8000", bad)
	c.WebPort = portNumber(get, "WEB_PORT", "3000", bad)
	sideAddr(c.DebugAddr, "DEBUG_ADDR", "127.0.0.1:6060", bad)
	sideAddr(c.MetricsAddr, "METRICS_ADDR", "127.0.0.1:9090", bad)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", c.LogFormat, "want text or json")
	}
	level := get("LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil || !validLevel(level) {
		bad("LOG_LEVEL", level, "want debug, info, warn or error")
	}
	db, dbErr := dburl.Parse(c.DatabaseURL)
	if dbErr != nil {
		bad("DATABASE_URL", c.DatabaseURL, "want postgres://user:password@host:5432/db, sqlite:///path/to/file.db, or nothing for ./chirp.db")
	}
	origins := get("CORS_ALLOWED_ORIGINS", "*")
	if list, err := parseOrigins(origins); err != nil {
		bad("CORS_ALLOWED_ORIGINS", origins, err.Error())
	} else {
		c.AllowedOrigins = list
	}
	c.RequestTimeout = duration(get, "REQUEST_TIMEOUT", "5s", bad)
	c.ShutdownTimeout = duration(get, "SHUTDOWN_TIMEOUT", "10s", bad)
	c.PingInterval = duration(get, "PING_INTERVAL", "25s", bad)
	c.PingTimeout = duration(get, "PING_TIMEOUT", "45s", bad)
	if c.PingInterval > 0 && c.PingTimeout > 0 && c.PingTimeout <= c.PingInterval {
		bad("PING_TIMEOUT", get("PING_TIMEOUT", "45s"), "must be above PING_INTERVAL: the server drops a client PING_TIMEOUT after its last ping")
	}
	trusted := get("TRUSTED_PROXIES", "")
	if list, err := clientaddr.ParseTrusted(trusted); err != nil {
		bad("TRUSTED_PROXIES", trusted, fmt.Sprintf("%v: want comma-separated addresses or CIDR prefixes, such as 10.0.0.0/8,192.168.1.1, or nothing to trust no proxy", err))
	} else {
		c.TrustedProxies = list
	}
	c.WritesPerMinute = count(get, "RATE_LIMIT_WRITES_PER_MINUTE", "30", bad)
	c.WriteBurst = count(get, "RATE_LIMIT_BURST", "10", bad)
	c.SignInPerMinute = count(get, "SIGNIN_LIMIT_PER_MINUTE", "10", bad)
	c.SignInAccountPerHour = count(get, "SIGNIN_ACCOUNT_LIMIT_PER_HOUR", "20", bad)
	c.SessionMaxIdle = duration(get, "SESSION_MAX_IDLE", "720h", bad)
	c.GuestPosts = boolean(get, "GUEST_POSTS", "true", bad)
	c.WebAuthnRPID = get("WEBAUTHN_RP_ID", "localhost")
	c.WebAuthnOrigins = commaList(get("WEBAUTHN_ORIGINS", "http://localhost:3000"))
	rp := passkeys.Config{RPID: c.WebAuthnRPID, Origins: c.WebAuthnOrigins, RPDisplayName: passkeys.DisplayName}
	if err := rp.Validate(); err != nil {
		errs = append(errs, err)
	}
	c.SocketMaxPerIP = count(get, "SOCKET_MAX_PER_IP", "50", bad)
	c.FileLimit = fileLimit()
	total := get("SOCKET_MAX_TOTAL", "")
	if total == "" {
		c.SocketMaxTotal = SocketTotalFor(c.FileLimit)
	} else if c.SocketMaxTotal = count(get, "SOCKET_MAX_TOTAL", "", bad); c.FileLimit > 0 && uint64(c.SocketMaxTotal) > c.FileLimit {
		bad("SOCKET_MAX_TOTAL", total, fmt.Sprintf("above this process's file descriptor limit (%d, ulimit -n): every websocket holds one; raise the limit, or leave this unset to derive it", c.FileLimit))
	}
	c.SocketMaxPerNet = max(c.SocketMaxPerIP, c.SocketMaxTotal/8)
	if c.SocketMaxTotal == 0 {
		c.SocketMaxPerNet = 0 // nothing to fill
	}
	if perNet := get("SOCKET_MAX_PER_NET", ""); perNet != "" {
		c.SocketMaxPerNet = count(get, "SOCKET_MAX_PER_NET", "", bad)
		if c.SocketMaxPerNet > 0 && c.SocketMaxPerNet < c.SocketMaxPerIP {
			bad("SOCKET_MAX_PER_NET", perNet, fmt.Sprintf("below SOCKET_MAX_PER_IP (%d): no address of a network could reach its own cap; raise it, or 0 for no cap", c.SocketMaxPerIP))
		}
	}
	c.SocketNetPrefixV4 = prefixLength(get, "SOCKET_NET_PREFIX_V4", "24", 8, 32, bad)
	c.SocketNetPrefixV6 = prefixLength(get, "SOCKET_NET_PREFIX_V6", "48", 16, 64, bad)
	c.ConnMaxPerIP, c.ConnMaxTotal = connLimits(get, c, bad)
	c.IdleTimeout = duration(get, "IDLE_TIMEOUT", "2m", bad)
	c.SocketMaxMessageBytes = byteCount(get, "SOCKET_MAX_MESSAGE_BYTES", "65536", bad)
	c.MaxHeaderBytes = byteCount(get, "MAX_HEADER_BYTES", "16384", bad)
	postgres := dbErr == nil && db.Kind == dburl.PostgreSQL
	c.EventBus = EventBusLocal
	if postgres {
		c.EventBus = EventBusPostgres
	}
	switch bus := get("EVENT_BUS", c.EventBus); {
	case bus == EventBusPostgres && !postgres:
		bad("EVENT_BUS", bus, "postgres needs a PostgreSQL DATABASE_URL: SQLite serves one process, so its bus is local")
	case bus == EventBusPostgres, bus == EventBusLocal:
		c.EventBus = bus
	default:
		bad("EVENT_BUS", bus, "want postgres (several processes on one PostgreSQL database) or local (one process)")
	}
	c.EventBusHeartbeat = duration(get, "EVENT_BUS_HEARTBEAT", "1s", bad)
	if v := get("EVENT_BUS_HEARTBEAT", "1s"); c.EventBusHeartbeat > 0 && (c.EventBusHeartbeat < 100*time.Millisecond || c.EventBusHeartbeat > time.Minute) {
		bad("EVENT_BUS_HEARTBEAT", v, "want 100ms to 1m: a deaf process is noticed after three of them, and each is a NOTIFY every process hears")
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// connLimits reads CONN_MAX_PER_IP and CONN_MAX_TOTAL, once the socket limits are known:
// every socket holds a connection, so a connection cap at or below its socket cap would
// refuse sockets before the socket limit could answer them, and shut the API out.
func connLimits(get func(string, string) string, c Config, bad func(string, string, string)) (perIP, total int) {
	if v := get("CONN_MAX_PER_IP", ""); v == "" {
		perIP = max(128, 2*c.SocketMaxPerIP)
	} else if perIP = count(get, "CONN_MAX_PER_IP", "", bad); perIP > 0 && c.SocketMaxPerIP > 0 && perIP <= c.SocketMaxPerIP {
		bad("CONN_MAX_PER_IP", v, fmt.Sprintf("must be above SOCKET_MAX_PER_IP (%d): each socket holds a connection, and its client needs more for the API; leave it unset to derive it", c.SocketMaxPerIP))
	}
	if v := get("CONN_MAX_TOTAL", ""); v == "" {
		total = ConnTotalFor(c.FileLimit)
	} else if total = count(get, "CONN_MAX_TOTAL", "", bad); c.FileLimit > 0 && uint64(total) > c.FileLimit {
		bad("CONN_MAX_TOTAL", v, fmt.Sprintf("above this process's file descriptor limit (%d, ulimit -n): every connection holds one; raise the limit, or leave this unset to derive it", c.FileLimit))
	} else if total > 0 && c.SocketMaxTotal > 0 && total <= c.SocketMaxTotal {
		bad("CONN_MAX_TOTAL", v, fmt.Sprintf("must be above SOCKET_MAX_TOTAL (%d): each socket holds a connection, and the API needs more; lower SOCKET_MAX_TOTAL with it, or leave this unset to derive it", c.SocketMaxTotal))
	}
	return perIP, total
}

// ConnTotalFor is CONN_MAX_TOTAL's default for a file descriptor limit: the sockets'
// (SocketTotalFor) and half of the reserve they leave, for the API's own connections; the
// other half stays for the database and the files the process opens. nofile 0: no cap.
func ConnTotalFor(nofile uint64) int {
	sockets := SocketTotalFor(nofile)
	return sockets + int((nofile-uint64(sockets))/2)
}

// SocketTotalFor is SOCKET_MAX_TOTAL's default for a file descriptor limit: what is left after
// a fifth (at least 256) is kept for the API's own connections, the database and the files
// the process opens. nofile 0 (unknown): no cap.
func SocketTotalFor(nofile uint64) int {
	if nofile == 0 {
		return 0
	}
	reserve := max(nofile/5, 256)
	if nofile < 2*reserve {
		return int(nofile / 2)
	}
	return int(min(nofile-reserve, 1<<30))
}

// fileLimit is the process's RLIMIT_NOFILE (the soft limit, which Go raises to the hard one at
// start), or 0 if it cannot be read or is unlimited.
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == ^uint64(0) {
		return 0
	}
	return rl.Cur
}

func validLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// parseOrigins accepts "*" or a comma-separated list of exact origins (scheme://host[:port],
// as browsers send them in the Origin header: no path, no trailing slash).
func parseOrigins(s string) ([]string, error) {
	if s == "*" {
		return []string{"*"}, nil
	}
	var list []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin: want * or a comma-separated list such as http://localhost:3000,https://chirp.example", o)
		}
		list = append(list, o)
	}
	if len(list) == 0 {
		return nil, errors.New("want * or at least one origin")
	}
	return list, nil
}

func portNumber(get func(string, string) string, name, def string, bad func(string, string, string)) int {
	v := get(name, def)
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		bad(name, v, "want a port number from 0 to 65535 (0 picks a free port)")
		return 0
	}
	return n
}

// count reads a non-negative whole number (a limit, where 0 means off).
func count(get func(string, string) string, name, def string, bad func(string, string, string)) int {
	v := get(name, def)
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		bad(name, v, "want a whole number, 0 or more (0 turns the limit off)")
		return 0
	}
	return n
}

// boolean reads true or false (as strconv.ParseBool spells them: 1, t, TRUE, 0, f, False…).
func boolean(get func(string, string) string, name, def string, bad func(string, string, string)) bool {
	v := get(name, def)
	b, err := strconv.ParseBool(v)
	if err != nil {
		bad(name, v, "want true or false")
	}
	return b
}

// prefixLength reads the length of a network prefix, from least to most bits. An IPv6 prefix
// is at most 64 bits: a single client is counted by its /64 already.
func prefixLength(get func(string, string) string, name, def string, least, most int, bad func(string, string, string)) int {
	v := get(name, def)
	n, err := strconv.Atoi(v)
	if err != nil || n < least || n > most {
		bad(name, v, fmt.Sprintf("want a prefix length in bits from %d to %d, such as %s (the default), without the slash", least, most, def))
		return 0
	}
	return n
}

// byteCount reads a positive number of bytes: a size cap that cannot be turned off, since
// without one a single client could make the process hold whatever it sends.
func byteCount(get func(string, string) string, name, def string, bad func(string, string, string)) int {
	v := get(name, def)
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		bad(name, v, "want a positive number of bytes, such as "+def+" (the default); 0 is not allowed: this cap cannot be turned off")
		return 0
	}
	return n
}

func duration(get func(string, string) string, name, def string, bad func(string, string, string)) time.Duration {
	v := get(name, def)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		bad(name, v, "want a positive Go duration such as 5s or 1m30s")
		return 0
	}
	return d
}

// sideAddr checks the address of a side listener (DEBUG_ADDR, METRICS_ADDR): empty is off,
// anything else is host:port.
func sideAddr(addr, name, example string, bad func(name, value, want string)) {
	if addr == "" {
		return
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		bad(name, addr, "want host:port, such as "+example)
	}
}
