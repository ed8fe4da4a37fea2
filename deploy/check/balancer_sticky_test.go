package check

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBalancerStickyWithinOneName runs the balancer as compose does: ONE server
// line whose name resolves to several backends, as Docker's DNS answers `backend` with every
// replica's address. One client must always reach the same backend, or a polling session's
// later requests land on a process that does not hold it. Loopback has no such name, so nginx
// runs in a mount namespace of its own whose /etc/hosts gives one name two addresses.
func TestBalancerStickyWithinOneName(t *testing.T) {
	nginx := requireNginx(t)
	const name = "chirp-replicas"
	nginx = nginxWithHosts(t, nginx, "127.0.0.1 "+name+"\n127.0.0.2 "+name+"\n")

	// Two backends on one port, each answering its own address.
	var port int
	var servers []*httptest.Server
	for attempt := 0; len(servers) < 2 && attempt < 20; attempt++ {
		servers = nil
		port = freePort(t)
		for _, host := range []string{"127.0.0.1", "127.0.0.2"} {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, port))
			if err != nil {
				break // the port is taken on the second address: try another
			}
			s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, host)
			}))
			s.Listener.Close()
			s.Listener = ln
			s.Start()
			t.Cleanup(s.Close)
			servers = append(servers, s)
		}
	}
	if len(servers) < 2 {
		t.Fatal("found no port free on both 127.0.0.1 and 127.0.0.2 in 20 tries")
	}

	listen, logs := runBalancer(t, nginx, fmt.Sprintf("%s:%d", name, port))
	base := fmt.Sprintf("http://127.0.0.1:%d", listen)

	// Three clients, ten requests each, a new connection for each request as a polling
	// client's may be.
	used := map[string]bool{}
	for _, addr := range []string{"127.0.1.1", "127.0.1.2", "127.0.1.3"} {
		client := clientFrom(addr)
		reached := map[string]int{}
		for range 10 {
			req, _ := http.NewRequest(http.MethodGet, base+"/socket.io/?EIO=3&transport=polling", nil)
			status, body := answer(t, client, req, logs)
			if status != http.StatusOK {
				t.Fatalf("%s: status %d %q\n%s", addr, status, body, logs)
			}
			reached[body]++
			used[body] = true
		}
		if len(reached) != 1 {
			t.Errorf("client %s reached several backends of one server line: %v", addr, reached)
		}
	}
	t.Logf("backends used by the three clients: %v", used)
}

// nginxWithHosts is an executable that runs nginx with its arguments in a mount namespace of
// its own, where hosts is /etc/hosts. nginx resolves a server line's name once, at start (and
// for -t), with the system's resolver, so this is how a test gives a name several addresses.
// Needs root (CAP_SYS_ADMIN); without it the test is skipped, or fails where
// CHIRP_REQUIRE_NGINX is set (CI).
func nginxWithHosts(t *testing.T, nginx, hosts string) string {
	t.Helper()
	if err := exec.Command("unshare", "--mount", "true").Run(); err != nil {
		if os.Getenv("CHIRP_REQUIRE_NGINX") != "" {
			t.Fatalf("CHIRP_REQUIRE_NGINX is set but unshare --mount fails (needs root): %v", err)
		}
		t.Skipf("unshare --mount fails (needs root): %v", err)
	}
	dir := t.TempDir()
	hostsPath := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsPath, []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	// unshare and sh exec, so the process the test starts and signals is nginx itself. The
	// namespace's mounts are private: the bind never reaches the machine's /etc/hosts.
	// sh -c's $0 is the hosts file, and "$@" nginx with its arguments.
	script := fmt.Sprintf("#!/bin/sh\nexec unshare --mount sh -c 'mount --bind \"$0\" /etc/hosts && exec \"$@\"' %q %q \"$@\"\n", hostsPath, nginx)
	wrapper := filepath.Join(dir, "nginx")
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper
}
