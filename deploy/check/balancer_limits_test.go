package check

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestBalancerLimitsClients runs the rendered template with Debian's nginx and checks what it
// bounds per client: the client key is what the backends' limits count (an IPv4
// address, an IPv6 address's /64), requests in progress per client are capped, and a
// half-sent request header is cut. nginx's realip module stands in for clients from other
// addresses (IPv6 ones above all, which loopback cannot have): behind it, X-Test-Client sets
// $remote_addr as a connection from that address would, in nginx's own spelling.
func TestBalancerLimitsClients(t *testing.T) {
	nginx := requireNginx(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 8) // a held request has reached the backend
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() { close(release) }) // runs first: the held requests end before the backend closes
	port := freePort(t)
	site, err := renderBalancer(t, map[string]string{
		"CHIRP_BACKENDS": strings.TrimPrefix(backend.URL, "http://"), "CHIRP_BACKEND_RESOLVE": "", "CHIRP_LISTEN": fmt.Sprintf("127.0.0.1:%d", port),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hash $chirp_client;", "client_body_timeout 10s;", "limit_conn_status 429;"} {
		if !strings.Contains(site, want) {
			t.Errorf("the rendered configuration lacks %q", want)
		}
	}
	for _, edit := range []struct{ from, to string }{
		{"limit_conn chirp_conns 128;", "limit_conn chirp_conns 2;"},
		{"client_header_timeout 10s;", "client_header_timeout 1s;"},
		{"server_tokens off;", `server_tokens off;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Test-Client;
    location = /chirp-client { return 200 "$chirp_client"; }`},
	} {
		if !strings.Contains(site, edit.from) {
			t.Fatalf("the rendered configuration lacks %q", edit.from)
		}
		site = strings.Replace(site, edit.from, edit.to, 1)
	}
	logs := startNginx(t, nginx, nginxDir(t), site)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, base+"/", logs)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path, as string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("X-Test-Client", as)
		return answer(t, client, req, logs)
	}

	t.Run("KeyIsWhatTheLimitsCount", func(t *testing.T) {
		// /64s whose first four groups nginx writes in every way it can (zero groups alone,
		// in runs it compresses or not), each with interface ids that move the :: run into,
		// out of and across the prefix. ::/64 is left out: nginx writes its addresses as
		// IPv4 (::ffff:a.b.c.d), and the backends count those as IPv4.
		var addrs []netip.Addr
		for _, prefix := range [][4]uint16{
			{0x2001, 0xdb8, 1, 2}, {0x2001, 0xdb8, 0, 0}, {0x2001, 0xdb8, 0, 1}, {0x2001, 0xdb8, 1, 0},
			{0x2001, 0, 0, 0}, {0x2001, 0, 0, 1}, {0, 0, 0, 1}, {0, 0, 1, 2}, {0, 1, 0, 0}, {0xfe80, 0, 0, 0},
		} {
			for _, iid := range [][4]uint16{
				{0, 0, 0, 1}, {1, 2, 3, 4}, {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {0xabcd, 0, 0, 1}, {0, 0, 1, 0}, {1, 0, 1, 0},
			} {
				var b [16]byte
				for i, g := range append(prefix[:], iid[:]...) {
					b[2*i], b[2*i+1] = byte(g>>8), byte(g)
				}
				addrs = append(addrs, netip.AddrFrom16(b))
			}
		}
		keys := map[netip.Addr]string{}
		for _, a := range addrs {
			status, key := get("/chirp-client", a.String())
			if status != http.StatusOK || key == "" {
				t.Fatalf("key of %s: %d %q", a, status, key)
			}
			keys[a] = key
		}
		for _, a := range addrs {
			for _, b := range addrs {
				same64 := netip.PrefixFrom(a, 64).Masked() == netip.PrefixFrom(b, 64).Masked()
				if sameKey := keys[a] == keys[b]; sameKey != same64 {
					t.Errorf("%s (key %s) and %s (key %s): same /64 %v, same key %v", a, keys[a], b, keys[b], same64, sameKey)
				}
			}
		}
		for _, v4 := range []string{"203.0.113.5", "198.51.100.77"} {
			if _, key := get("/chirp-client", v4); key != v4 {
				t.Errorf("key of %s: %q, want the address itself", v4, key)
			}
		}
	})

	t.Run("RequestsInProgressPerClient", func(t *testing.T) {
		held := make(chan int, 2)
		for _, as := range []string{"2001:db8:7:7::1", "2001:db8:7:7::2"} {
			go func() {
				req, _ := http.NewRequest(http.MethodGet, base+"/hold", nil)
				req.Header.Set("X-Test-Client", as)
				resp, err := client.Do(req)
				if err != nil {
					held <- 0
					return
				}
				resp.Body.Close()
				held <- resp.StatusCode
			}()
		}
		// No third request until both held ones are in progress at the backend: one sent
		// meanwhile would take a slot itself and have a held one refused.
		for range 2 {
			select {
			case <-arrived:
			case status := <-held:
				t.Fatalf("a held request ended with %d before the third was sent\n%s", status, logs)
			case <-time.After(10 * time.Second):
				t.Fatalf("the two held requests did not both reach the backend in 10 s\n%s", logs)
			}
		}
		if status, _ := get("/", "2001:db8:7:7::3"); status != http.StatusTooManyRequests {
			t.Fatalf("a third request from one /64 while two are in progress: %d, want 429\n%s", status, logs)
		}
		if status, _ := get("/", "2001:db8:7:8::1"); status != http.StatusOK {
			t.Fatalf("another /64 while the first is at its cap: %d\n%s", status, logs)
		}
		if status, _ := get("/", "203.0.113.5"); status != http.StatusOK {
			t.Fatalf("an IPv4 client while the /64 is at its cap: %d\n%s", status, logs)
		}
	})

	t.Run("HalfSentHeaderIsCut", func(t *testing.T) {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: chirp.example\r\n") // never the blank line
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, conn); err != nil {
			t.Fatalf("the half-sent request's connection is still open 10 s later (client_header_timeout 1s): %v", err)
		}
	})
}

// answer sends req through c: the status and the body (a transport error fails the test, with
// nginx's log).
func answer(t *testing.T, c *http.Client, req *http.Request, logs fmt.Stringer) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s (X-Test-Client %q): %v\n%s", req.Method, req.URL.Path, req.Header.Get("X-Test-Client"), err, logs)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
