package config_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "0.0.0.0:8000" || c.LogFormat != "text" || c.LogLevel != slog.LevelInfo ||
		c.DatabaseURL != "" || !slices.Equal(c.AllowedOrigins, []string{"*"}) ||
		c.RequestTimeout != 5*time.Second || c.ShutdownTimeout != 10*time.Second ||
		c.PingInterval != 25*time.Second || c.PingTimeout != 45*time.Second ||
		c.SocketMaxPerIP != 50 || c.EventBusHeartbeat != time.Second || c.FileLimit == 0 || c.SocketMaxTotal != config.SocketTotalFor(c.FileLimit) ||
		c.SocketMaxPerNet != max(50, c.SocketMaxTotal/8) || c.SocketNetPrefixV4 != 24 || c.SocketNetPrefixV6 != 48 ||
		c.ConnMaxPerIP != 128 || c.ConnMaxTotal != config.ConnTotalFor(c.FileLimit) || c.IdleTimeout != 2*time.Minute {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestSocketTotalLeavesRoomForTheAPIAndTheDatabase(t *testing.T) {
	for _, tt := range []struct {
		nofile uint64
		want   int
	}{
		{0, 0}, // unknown: no cap
		{256, 128},
		{1024, 768},
		{20_000, 16_000},
		{1 << 20, 838_861},
	} {
		if got := config.SocketTotalFor(tt.nofile); got != tt.want {
			t.Errorf("SocketTotalFor(%d) = %d, want %d", tt.nofile, got, tt.want)
		}
	}
}

// Connections in all stay below the descriptor limit: above the sockets' total by half of what
// the sockets leave (the API's connections), with the other half kept for the database and
// files.
func TestConnTotalLeavesRoomForTheDatabase(t *testing.T) {
	for _, tt := range []struct {
		nofile uint64
		want   int
	}{
		{0, 0}, // unknown: no cap
		{256, 192},
		{1024, 896},
		{1500, 1350},
		{20_000, 18_000},
	} {
		got := config.ConnTotalFor(tt.nofile)
		if got != tt.want {
			t.Errorf("ConnTotalFor(%d) = %d, want %d", tt.nofile, got, tt.want)
		}
		if sockets := config.SocketTotalFor(tt.nofile); tt.nofile > 0 && (got <= sockets || uint64(got) >= tt.nofile) {
			t.Errorf("ConnTotalFor(%d) = %d: not between the sockets' %d and the limit", tt.nofile, got, sockets)
		}
	}
}

func TestConnLimits(t *testing.T) {
	for _, tt := range []struct {
		name         string
		env          map[string]string
		perIP, total int
	}{
		{"Set", map[string]string{"CONN_MAX_PER_IP": "60", "CONN_MAX_TOTAL": "900", "SOCKET_MAX_TOTAL": "800"}, 60, 900},
		{"Off", map[string]string{"CONN_MAX_PER_IP": "0", "CONN_MAX_TOTAL": "0"}, 0, 0},
		// Derived per address: room for twice the sockets (a polling session's long-poll and
		// its POST), at least 128.
		{"FollowsSocketsPerIP", map[string]string{"SOCKET_MAX_PER_IP": "100"}, 200, -1},
		{"SocketsPerIPOff", map[string]string{"SOCKET_MAX_PER_IP": "0"}, 128, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.ConnMaxPerIP != tt.perIP || (tt.total >= 0 && c.ConnMaxTotal != tt.total) {
				t.Fatalf("CONN_MAX_PER_IP %d, CONN_MAX_TOTAL %d; want %d, %d", c.ConnMaxPerIP, c.ConnMaxTotal, tt.perIP, tt.total)
			}
		})
	}
}

func TestSocketLimits(t *testing.T) {
	c, err := config.Load(env(map[string]string{"SOCKET_MAX_PER_IP": "0", "SOCKET_MAX_TOTAL": "5"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SocketMaxPerIP != 0 || c.SocketMaxTotal != 5 {
		t.Fatalf("parsed %+v", c)
	}
	for _, tt := range []struct {
		env                map[string]string
		perNet, bitsV4, v6 int
	}{
		// Derived: an eighth of the total, so that it takes at least eight networks to fill
		// the process, and never below one address's own cap.
		{map[string]string{"SOCKET_MAX_TOTAL": "800"}, 100, 24, 48},
		{map[string]string{"SOCKET_MAX_TOTAL": "256"}, 50, 24, 48},
		{map[string]string{"SOCKET_MAX_TOTAL": "0"}, 0, 24, 48},
		{map[string]string{"SOCKET_MAX_PER_NET": "0"}, 0, 24, 48},
		{map[string]string{"SOCKET_MAX_PER_NET": "300", "SOCKET_NET_PREFIX_V4": "16", "SOCKET_NET_PREFIX_V6": "56"}, 300, 16, 56},
	} {
		c, err := config.Load(env(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		if c.SocketMaxPerNet != tt.perNet || c.SocketNetPrefixV4 != tt.bitsV4 || c.SocketNetPrefixV6 != tt.v6 {
			t.Errorf("%v: per net %d by /%d and /%d, want %d by /%d and /%d", tt.env,
				c.SocketMaxPerNet, c.SocketNetPrefixV4, c.SocketNetPrefixV6, tt.perNet, tt.bitsV4, tt.v6)
		}
	}
}

func TestMessageAndHeaderCaps(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SocketMaxMessageBytes != 65536 || c.MaxHeaderBytes != 16384 {
		t.Fatalf("defaults: message %d, headers %d", c.SocketMaxMessageBytes, c.MaxHeaderBytes)
	}
	c, err = config.Load(env(map[string]string{"SOCKET_MAX_MESSAGE_BYTES": "1024", "MAX_HEADER_BYTES": "4096"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SocketMaxMessageBytes != 1024 || c.MaxHeaderBytes != 4096 {
		t.Fatalf("parsed: message %d, headers %d", c.SocketMaxMessageBytes, c.MaxHeaderBytes)
	}
}

// Unlike the other limits, these caps have no "0 = off": the error says so.
func TestZeroCapsAreRefused(t *testing.T) {
	_, err := config.Load(env(map[string]string{"SOCKET_MAX_MESSAGE_BYTES": "0", "MAX_HEADER_BYTES": "0"}))
	for _, want := range []string{
		`SOCKET_MAX_MESSAGE_BYTES="0": want a positive number of bytes, such as 65536`,
		`MAX_HEADER_BYTES="0": want a positive number of bytes, such as 16384`,
		"0 is not allowed",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q in %v", want, err)
		}
	}
}

func TestValidValues(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"HOST": "127.0.0.1", "PORT": "0", "LOG_FORMAT": "json", "LOG_LEVEL": "debug",
		"DATABASE_URL":         "postgres://chirp:secret@db:5432/chirp?sslmode=disable",
		"CORS_ALLOWED_ORIGINS": "http://localhost:3000, https://chirp.example",
		"REQUEST_TIMEOUT":      "250ms", "SHUTDOWN_TIMEOUT": "1m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "127.0.0.1:0" || c.LogLevel != slog.LevelDebug || c.RequestTimeout != 250*time.Millisecond ||
		!slices.Equal(c.AllowedOrigins, []string{"http://localhost:3000", "https://chirp.example"}) {
		t.Fatalf("parsed %+v", c)
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	tests := []struct{ name, value string }{
		{"PORT", "eighty"},
		{"PORT", "70000"},
		{"PORT", "-1"},
		{"HOST", "local host"},
		{"LOG_FORMAT", "xml"},
		{"LOG_LEVEL", "loud"},
		{"LOG_LEVEL", "info+2"},
		{"DATABASE_URL", "mysql://root@db/chirp"},
		{"DATABASE_URL", "sqlite://"},
		{"CORS_ALLOWED_ORIGINS", "localhost:3000"},
		{"CORS_ALLOWED_ORIGINS", "http://localhost:3000/"},
		{"CORS_ALLOWED_ORIGINS", ","},
		{"REQUEST_TIMEOUT", "5"},
		{"REQUEST_TIMEOUT", "-1s"},
		{"SHUTDOWN_TIMEOUT", "soon"},
		{"PING_INTERVAL", "0s"},
		{"DEBUG_ADDR", "6060"},
		{"METRICS_ADDR", "9090"},
		{"METRICS_ADDR", "localhost"},
		{"WEB_PORT", "web"},
		{"RATE_LIMIT_WRITES_PER_MINUTE", "-1"},
		{"RATE_LIMIT_WRITES_PER_MINUTE", "thirty"},
		{"RATE_LIMIT_BURST", "1.5"},
		{"TRUSTED_PROXIES", "10.0.0.0/33"},
		{"TRUSTED_PROXIES", "10.0.0.1, proxy.internal"},
		{"SOCKET_MAX_PER_IP", "-1"},
		{"SOCKET_MAX_PER_IP", "many"},
		{"SOCKET_MAX_TOTAL", "1.5"},
		{"SOCKET_MAX_TOTAL", "99999999999"}, // above any file descriptor limit of this machine
		{"SOCKET_MAX_PER_NET", "-1"},
		{"SOCKET_MAX_PER_NET", "10"}, // below SOCKET_MAX_PER_IP's 50: no address could reach its own
		{"SOCKET_NET_PREFIX_V4", "7"},
		{"SOCKET_NET_PREFIX_V4", "33"},
		{"SOCKET_NET_PREFIX_V4", "/24"},
		{"SOCKET_NET_PREFIX_V6", "15"},
		{"SOCKET_NET_PREFIX_V6", "65"}, // narrower than the /64 a single client is counted by
		{"CONN_MAX_PER_IP", "-1"},
		{"CONN_MAX_PER_IP", "50"}, // not above the default SOCKET_MAX_PER_IP
		{"CONN_MAX_TOTAL", "lots"},
		{"CONN_MAX_TOTAL", "99999999999"}, // above any file descriptor limit of this machine
		{"CONN_MAX_TOTAL", "100"},         // below the derived SOCKET_MAX_TOTAL
		{"IDLE_TIMEOUT", "0s"},
		{"IDLE_TIMEOUT", "2"},
		{"SOCKET_MAX_MESSAGE_BYTES", "0"},
		{"SOCKET_MAX_MESSAGE_BYTES", "-1"},
		{"SOCKET_MAX_MESSAGE_BYTES", "64KiB"},
		{"MAX_HEADER_BYTES", "0"},
		{"MAX_HEADER_BYTES", "-16384"},
		{"MAX_HEADER_BYTES", "16k"},

		{"PING_TIMEOUT", "10s"}, // not above the default 25 s interval
		{"EVENT_BUS", "redis"},
		{"EVENT_BUS", "postgres"}, // on the default SQLite database
		{"EVENT_BUS_HEARTBEAT", "1"},
		{"EVENT_BUS_HEARTBEAT", "10ms"},
		{"EVENT_BUS_HEARTBEAT", "2m"},
		{"SIGNIN_LIMIT_PER_MINUTE", "-1"},
		{"SIGNIN_LIMIT_PER_MINUTE", "ten"},
		{"SIGNIN_ACCOUNT_LIMIT_PER_HOUR", "2.5"},
		{"SESSION_MAX_IDLE", "30d"}, // Go durations stop at hours
		{"SESSION_MAX_IDLE", "0s"},
		{"GUEST_POSTS", "yes"},
		{"GUEST_POSTS", "off"},
		{"WEBAUTHN_RP_ID", "https://chirp.example"},
		{"WEBAUTHN_RP_ID", "localhost:3000"},
		{"WEBAUTHN_ORIGINS", "http://localhost:3000/"},
		{"WEBAUTHN_ORIGINS", "https://evil.example"}, // not within the default RP ID localhost
		{"WEBAUTHN_ORIGINS", ","},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := config.Load(env(map[string]string{tt.name: tt.value}))
			if err == nil || !strings.Contains(err.Error(), tt.name+"=") {
				t.Fatalf("want an error naming %s, got %v", tt.name, err)
			}
		})
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	_, err := config.Load(env(map[string]string{"PORT": "x", "LOG_FORMAT": "y", "SOCKET_MAX_PER_IP": "z"}))
	if err == nil || !strings.Contains(err.Error(), "PORT=") || !strings.Contains(err.Error(), "LOG_FORMAT=") ||
		!strings.Contains(err.Error(), "SOCKET_MAX_PER_IP=") {
		t.Fatalf("got %v", err)
	}
}

func TestWriteLimitAndProxies(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.WritesPerMinute != 30 || c.WriteBurst != 10 || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: %d/min burst %d, trusted %v", c.WritesPerMinute, c.WriteBurst, c.TrustedProxies)
	}
	c, err = config.Load(env(map[string]string{
		"RATE_LIMIT_WRITES_PER_MINUTE": "0", "RATE_LIMIT_BURST": "3",
		"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1, ::1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var trusted []string
	for _, p := range c.TrustedProxies {
		trusted = append(trusted, p.String())
	}
	if c.WritesPerMinute != 0 || c.WriteBurst != 3 || !slices.Equal(trusted, []string{"10.0.0.0/8", "192.168.1.1/32", "::1/128"}) {
		t.Fatalf("parsed %d/min burst %d, trusted %v", c.WritesPerMinute, c.WriteBurst, trusted)
	}
}

func TestAccountSettings(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SignInPerMinute != 10 || c.SignInAccountPerHour != 20 || c.SessionMaxIdle != 720*time.Hour || !c.GuestPosts {
		t.Fatalf("defaults: sign-in %d/min, %d/h a handle, idle %v, guests %v", c.SignInPerMinute, c.SignInAccountPerHour, c.SessionMaxIdle, c.GuestPosts)
	}
	c, err = config.Load(env(map[string]string{
		"SIGNIN_LIMIT_PER_MINUTE": "0", "SIGNIN_ACCOUNT_LIMIT_PER_HOUR": "5",
		"SESSION_MAX_IDLE": "168h", "GUEST_POSTS": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SignInPerMinute != 0 || c.SignInAccountPerHour != 5 || c.SessionMaxIdle != 168*time.Hour || c.GuestPosts {
		t.Fatalf("parsed sign-in %d/min, %d/h a handle, idle %v, guests %v", c.SignInPerMinute, c.SignInAccountPerHour, c.SessionMaxIdle, c.GuestPosts)
	}
}

func TestWebAuthnSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		rpID    string
		origins []string
	}{
		{"Defaults", nil, "localhost", []string{"http://localhost:3000"}},
		{"PublicDeployment", map[string]string{"WEBAUTHN_RP_ID": "chirp.example",
			"WEBAUTHN_ORIGINS": " https://chirp.example , https://www.chirp.example,"},
			"chirp.example", []string{"https://chirp.example", "https://www.chirp.example"}},
		{"AnotherLocalPort", map[string]string{"WEBAUTHN_ORIGINS": "http://localhost:8080"},
			"localhost", []string{"http://localhost:8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.WebAuthnRPID != tc.rpID || !slices.Equal(c.WebAuthnOrigins, tc.origins) {
				t.Fatalf("got %q %q; want %q %q", c.WebAuthnRPID, c.WebAuthnOrigins, tc.rpID, tc.origins)
			}
		})
	}
}

// The new variables' problems come together with the others'.
func TestInvalidLimitsAreReportedWithTheRest(t *testing.T) {
	_, err := config.Load(env(map[string]string{"RATE_LIMIT_BURST": "x", "TRUSTED_PROXIES": "y", "PORT": "z"}))
	for _, name := range []string{"RATE_LIMIT_BURST=", "TRUSTED_PROXIES=", "PORT="} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("all problems at once: want %s in %v", name, err)
		}
	}
}

func TestEventBusFollowsTheDatabase(t *testing.T) {
	const pg = "postgres://chirp@db:5432/chirp"
	tests := []struct {
		databaseURL, eventBus, want string
	}{
		{"", "", config.EventBusLocal},
		{"sqlite:///tmp/chirp.db", "local", config.EventBusLocal},
		{pg, "", config.EventBusPostgres},
		{"postgresql://chirp@db/chirp", "", config.EventBusPostgres},
		{pg, "local", config.EventBusLocal},
		{pg, "postgres", config.EventBusPostgres},
	}
	for _, tt := range tests {
		t.Run(tt.databaseURL+" "+tt.eventBus, func(t *testing.T) {
			c, err := config.Load(env(map[string]string{"DATABASE_URL": tt.databaseURL, "EVENT_BUS": tt.eventBus}))
			if err != nil {
				t.Fatal(err)
			}
			if c.EventBus != tt.want {
				t.Fatalf("EVENT_BUS %q with DATABASE_URL %q: got %q, want %q", tt.eventBus, tt.databaseURL, c.EventBus, tt.want)
			}
		})
	}
}
