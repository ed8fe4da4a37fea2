#!/usr/bin/env bash
# Chirp with several backends behind nginx, without Docker (make run-balanced): the same
# balancer as docker-compose.scale.yml, rendered from the same template and .envsh.
#
#   run-balanced.sh             start BACKENDS backends, nginx in front of them and the page;
#                               Ctrl+C (or any of them stopping) stops everything; SIGUSR1
#                               restarts the backends one at a time (a rolling restart)
#   run-balanced.sh check       check the environment below (make run-balanced: before building)
#   run-balanced.sh render      print the balancer's configuration: the template rendered as
#                               the nginx image renders it, from CHIRP_BACKENDS, CHIRP_LISTEN,
#                               CHIRP_RESOLVER and CHIRP_BACKEND_RESOLVE
#   run-balanced.sh nginx DIR   render into DIR and run nginx there in the foreground (the
#                               balancer of the tests)
#
# The environment (defaults in brackets):
#   DATABASE_URL        a PostgreSQL: the backends share it and hear each other through it
#   BACKENDS            how many backend processes [2]
#   FIRST_BACKEND_PORT  the first backend's port on 127.0.0.1; the others follow [8001]
#   PORT                the balancer's port: the API as clients and the page see it [8000]
#   WEB_PORT            the page's port [3000]
#   HOST                where the balancer and the page listen [0.0.0.0]
#   CHIRP_BIN           the chirp binary [backend/bin/chirp]
#   NGINX_BIN           nginx [nginx on PATH, else /usr/sbin/nginx]
# Bash 3.2 (macOS's) is enough: no wait -n, no associative arrays.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# The variables 15-chirp-backends.envsh exports for the template: substituted by name, as the
# nginx image does, so that nginx's own $remote_addr and $http_upgrade pass through.
template_vars="CHIRP_UPSTREAM_SERVERS CHIRP_LISTEN_DIRECTIVES CHIRP_RESOLVER"

say() { printf 'run-balanced: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

# render prints the template with template_vars substituted, after the .envsh made them.
render() (
	. "$here/15-chirp-backends.envsh" || exit 1
	# awk, not envsubst: it is everywhere (macOS has no envsubst), and index/substr copy the
	# values as they are (gsub would read & and \ in them).
	awk -v names="$template_vars" '
		BEGIN { n = split(names, list, " ") }
		{
			line = $0
			for (i = 1; i <= n; i++) {
				key = "${" list[i] "}"
				out = ""
				while ((p = index(line, key)) > 0) {
					out = out substr(line, 1, p - 1) ENVIRON[list[i]]
					line = substr(line, p + length(key))
				}
				line = out line
			}
			# A variable the template gained but template_vars lacks would reach nginx as text.
			if (match(line, /[$][{][A-Za-z_][A-Za-z0-9_]*[}]/)) left = left " " substr(line, RSTART, RLENGTH)
			print line
		}
		END {
			if (left != "") {
				print "run-balanced: the template has variables that are not rendered:" left > "/dev/stderr"
				exit 1
			}
		}' "$here/templates/default.conf.template"
)

# find_nginx prints the nginx to run, or fails saying which package to install.
find_nginx() {
	local found where
	if [ -n "${NGINX_BIN:-}" ]; then
		found=$NGINX_BIN where="NGINX_BIN=$NGINX_BIN is not an executable"
	else
		# Debian installs nginx in /usr/sbin, which a user's PATH often lacks.
		found=$(command -v nginx) || found=/usr/sbin/nginx
		where="nginx is not installed (not on PATH, nor /usr/sbin/nginx)"
	fi
	if [ -x "$found" ]; then
		printf '%s\n' "$found"
		return
	fi
	die "$where; the balancer in front of the backends needs it: on Debian or Ubuntu" \
		"sudo apt-get install nginx, on macOS brew install nginx (or set NGINX_BIN to one)"
}

# configure renders the balancer into dir, with an nginx.conf of its own there: its pid file,
# logs and temporary files stay in dir, so nginx needs no root and touches nothing else.
configure() {
	local dir=$1
	mkdir -p "$dir" || die "cannot make $dir"
	# nginx's workers (nobody, when nginx starts as root) make their temporary files here.
	chmod 755 "$dir"
	render >"$dir/site.conf" || exit 1
	cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/site.conf;
}
EOF
}

# exec_nginx replaces this process with nginx on dir's configuration (-e: not even its first
# message goes to the system's log, which a user may not write).
exec_nginx() {
	local dir=$1 nginx=$2
	exec "$nginx" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
}

port_number() {
	local name=$1 value=$2
	case "$value" in
	'' | *[!0-9]*) die "$name=$value: want a port number, 1 to 65535" ;;
	esac
	((value >= 1 && value <= 65535)) || die "$name=$value: want a port number, 1 to 65535"
}

# Started processes, in order: pids, names, log files.
pids=()
names=()
logs=()
stopping=
roll=

# stop_all ends every started process that still runs, the last started first, and waits
# for them (SHUTDOWN_TIMEOUT lets a backend take 10 s; after 20 s it is killed).
stop_all() {
	[ -z "$stopping" ] || return 0
	stopping=1
	# (Bash before 4.4 calls an empty array unbound under set -u.)
	((${#pids[@]})) || return 0
	local i pid left deadline=$((SECONDS + 20))
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
	done
	while :; do
		left=
		for pid in "${pids[@]}"; do
			if kill -0 "$pid" 2>/dev/null; then left="$left $pid"; fi
		done
		[ -n "$left" ] || break
		if ((SECONDS >= deadline)); then
			say "still running after 20 s, killed:$left"
			kill -KILL $left 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait 2>/dev/null
	say "stopped ${#pids[@]} processes; logs kept in $run_dir"
}

# failed reports that names[i] stopped, with its log's end, stops the rest and exits 1.
failed() {
	local i=$1 why=$2
	say "${names[i]} $why; its log (${logs[i]}) ends:"
	tail -n 20 "${logs[i]}" >&2
	stop_all
	exit 1
}

# stopped_together says whether process i, which ended with status, stopped with all the others
# on one signal to the whole process group (Ctrl+C), rather than on its own: a script started
# with SIGINT ignored (in the background of another one) never sees that signal while its
# children (Go's signal.Notify, nginx) do. Such a stop is clean (status 0, or 130 or 143 of the
# signal itself); the balancer and the page go at once, a backend may take its shutdown timeout.
# One that stops alone leaves the others running; with no other started yet, nothing can tell.
stopped_together() {
	local i=$1 status=$2 j n running others=$((${#pids[@]} - 1))
	case "$status" in
	0 | 130 | 143) ;;
	*) return 1 ;;
	esac
	((others > 0)) || return 1
	# Up to 20 s, as stop_all allows; none of the others stopping within 2 s: it stopped alone.
	for ((n = 0; n < 200; n++)); do
		running=0
		for j in "${!pids[@]}"; do
			if ((j != i)) && kill -0 "${pids[j]}" 2>/dev/null; then running=$((running + 1)); fi
		done
		((running > 0)) || return 0
		((n < 20 || running < others)) || return 1
		pause 0.1
	done
	return 1
}

# watch_all fails if a started process has stopped on its own, and exits 0 when all of them
# stopped together.
watch_all() {
	local i status
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[i]}" 2>/dev/null; then
			wait "${pids[i]}"
			status=$?
			if stopped_together "$i" "$status"; then
				say "every process stopped at once, as on Ctrl+C (a signal to the whole process group)"
				stop_all
				exit 0
			fi
			failed "$i" "stopped (status $status)"
		fi
	done
}

# started records the process just started in the background as number i.
started() {
	pids[$1]=$!
	names[$1]=$2
	logs[$1]=$3
}

# wait_ready runs probe until it succeeds (60 s at most: a first start migrates the database)
# for process number i; any started process stopping meanwhile is a failure.
wait_ready() {
	local i=$1 deadline=$((SECONDS + 60))
	shift
	until "$@" >/dev/null 2>&1; do
		watch_all
		((SECONDS < deadline)) || failed "$i" "was not ready within 60 s"
		sleep 0.2
	done
}

# pause sleeps in the background, so that a signal is handled at once, not after the sleep.
pause() {
	sleep "$1" &
	wait $! 2>/dev/null
}

# start_backend starts backend number i (from 0) on its port and waits until it is ready. The
# balancer connects from 127.0.0.1, and only its X-Forwarded-For is believed there: clients
# keep their address.
start_backend() {
	local i=$1 bport=$((first + $1)) log="$run_dir/backend-$(($1 + 1)).log"
	HOST=127.0.0.1 PORT=$bport TRUSTED_PROXIES=127.0.0.1 DATABASE_URL=$database "$chirp" >>"$log" 2>&1 &
	started "$i" "backend $((i + 1))" "$log"
	wait_ready "$i" env HOST=127.0.0.1 PORT="$bport" DATABASE_URL="$database" "$chirp" healthcheck
}

# roll_backends restarts the backends one at a time (a rebuilt binary is picked up): each
# stops as on Ctrl+C (its clients reconnect through nginx to the others), starts again on its
# port and must be ready before the next one stops.
roll_backends() {
	local i pid status deadline fail_timeout
	fail_timeout=$(sed -n 's/.*fail_timeout=\([0-9]*\)s.*/\1/p' "$run_dir/balancer/site.conf" | head -n 1)
	for ((i = 0; i < count; i++)); do
		pid=${pids[i]}
		say "restarting ${names[i]} (pid $pid)"
		kill -TERM "$pid" 2>/dev/null
		deadline=$((SECONDS + 20))
		while kill -0 "$pid" 2>/dev/null; do
			if ((SECONDS >= deadline)); then
				say "${names[i]} still running after 20 s, killed"
				kill -KILL "$pid" 2>/dev/null
			fi
			sleep 0.1
		done
		wait "$pid"
		status=$?
		((status == 0)) || say "${names[i]} stopped with status $status (its log: ${logs[i]})"
		start_backend "$i"
		say "${names[i]} restarted: pid ${pids[i]}"
		# nginx passes over a backend that refused it twice for the server lines' fail_timeout,
		# counted in whole seconds: until that is over the restarted one may take no clients,
		# and stopping the next would leave nginx none ("no live upstreams", 502).
		((i == count - 1)) || pause $((fail_timeout + 2))
	done
	say "restarted $count backends"
}

# accepts succeeds when host:port takes a TCP connection.
accepts() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# settings reads and checks the environment into the globals below, or fails saying why.
settings() {
	database=${DATABASE_URL:-}
	case "$database" in
	postgres://* | postgresql://*) ;;
	'') die "DATABASE_URL is not set: several backends need one PostgreSQL to share (SQLite serves one process)," \
		"e.g. DATABASE_URL='postgres://postgres@127.0.0.1:5432/chirp?sslmode=disable' make run-balanced" ;;
	*) die "DATABASE_URL is not a PostgreSQL URL (postgres://…): several backends share one PostgreSQL and hear" \
		"each other's writes through it; SQLite serves one process (make run)" ;;
	esac
	count=${BACKENDS:-2} first=${FIRST_BACKEND_PORT:-8001} port=${PORT:-8000} web_port=${WEB_PORT:-3000}
	host=${HOST:-0.0.0.0}
	case "$count" in
	'' | *[!0-9]* | 0) die "BACKENDS=$count: want how many backends, 1 or more" ;;
	esac
	port_number PORT "$port"
	port_number WEB_PORT "$web_port"
	port_number FIRST_BACKEND_PORT "$first"
	port_number "FIRST_BACKEND_PORT + BACKENDS - 1" $((first + count - 1))
	local p
	for p in "$port" "$web_port"; do
		if ((p >= first && p < first + count)); then
			die "the backends' ports, $first to $((first + count - 1)) (FIRST_BACKEND_PORT, BACKENDS), include $p (PORT or WEB_PORT)"
		fi
	done
	[ "$port" != "$web_port" ] || die "PORT and WEB_PORT are both $port: the balancer and the page need a port each"
	nginx=$(find_nginx) || exit 1
}

run_all() {
	settings
	chirp=${CHIRP_BIN:-$root/backend/bin/chirp}
	[ -x "$chirp" ] || die "$chirp is not built: make build (or make run-balanced, which builds it)"

	# Where the balancer listens, as nginx spells it; "::" listens on both stacks, as Go does.
	local listen probe_host=$host shown=$host
	case "$host" in
	0.0.0.0) listen=$port probe_host=127.0.0.1 shown=localhost ;;
	::) listen="$port [::]:$port" probe_host=127.0.0.1 shown=localhost ;;
	*:*) listen="[$host]:$port" shown="[$host]" ;;
	*) listen="$host:$port" ;;
	esac
	# Consulted only by `resolve` server lines, which loopback addresses never need; nginx
	# wants one anyway.
	local resolver=${CHIRP_RESOLVER:-$(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ { print $2; exit }' /etc/resolv.conf 2>/dev/null)}

	run_dir=$(mktemp -d "${TMPDIR:-/tmp}/chirp-balanced.XXXXXX") || die "cannot make a directory for the logs"
	chmod 755 "$run_dir"
	# Ctrl+C reaches every process of the group at once; this stops what is left and waits. (A
	# bash started with SIGINT ignored, in the background of another script, cannot trap it:
	# watch_all sees its children stop together on it instead.)
	trap 'stop_all; exit 0' INT TERM
	trap 'roll=1' USR1
	trap 'stop_all' EXIT

	local i backends=
	for ((i = 0; i < count; i++)); do
		# One at a time: each migrates the database at start.
		start_backend "$i"
		backends="$backends 127.0.0.1:$((first + i))"
	done

	CHIRP_BACKENDS=$backends CHIRP_BACKEND_RESOLVE= CHIRP_LISTEN=$listen CHIRP_RESOLVER=${resolver:-127.0.0.1} \
		configure "$run_dir/balancer"
	exec_nginx "$run_dir/balancer" "$nginx" >"$run_dir/balancer/stderr.log" 2>&1 &
	started "$count" balancer "$run_dir/balancer/error.log"
	# Through nginx to a backend's /readyz.
	wait_ready "$count" env HOST="$probe_host" PORT="$port" DATABASE_URL="$database" "$chirp" healthcheck

	# API_URL unset: the page names its own host on PORT, the balancer, whatever name the
	# browser used (localhost, this machine's address).
	env -u API_URL HOST="$host" PORT="$port" WEB_PORT="$web_port" WEB_ROOT="$root/frontend/public" \
		"$chirp" web >"$run_dir/page.log" 2>&1 &
	started $((count + 1)) page "$run_dir/page.log"
	wait_ready $((count + 1)) accepts "$probe_host" "$web_port"

	say "$count backends behind nginx; logs in $run_dir"
	for ((i = 1; i <= count; i++)); do
		printf '  %-10s pid %-7s http://127.0.0.1:%s  %s\n' "backend $i" "${pids[i - 1]}" $((first + i - 1)) "${logs[i - 1]}" >&2
	done
	printf '  %-10s pid %-7s http://%s:%s  %s (nginx %s, configuration %s)\n' balancer "${pids[count]}" "$shown" "$port" \
		"${logs[count]}" "$nginx" "$run_dir/balancer/nginx.conf" >&2
	printf '  %-10s pid %-7s http://%s:%s  %s\n' page "${pids[count + 1]}" "$shown" "$web_port" "${logs[count + 1]}" >&2
	say "open http://$shown:$web_port (its API is the balancer, http://$shown:$port); Ctrl+C stops everything;" \
		"kill -USR1 $$ restarts the backends one at a time"

	while :; do
		watch_all
		if [ -n "$roll" ]; then
			roll=
			roll_backends
		fi
		pause 0.5
	done
}

case "${1:-}" in
'') run_all ;;
check) settings ;;
render) render ;;
nginx)
	[ -n "${2:-}" ] || die "usage: $0 nginx DIR"
	nginx=$(find_nginx) || exit 1
	configure "$2"
	exec_nginx "$2" "$nginx"
	;;
*) die "usage: $0 [check | render | nginx DIR]" ;;
esac
