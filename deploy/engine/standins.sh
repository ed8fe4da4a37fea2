#!/usr/bin/env bash
# Builds the stand-ins for the official images that Chirp's compose files and Dockerfile name
# (postgres, nginx, golang, distroless), from Debian packages, for machines that reach no image
# registry (`make test-compose` with STANDIN_IMAGES=1). Prints the variables that point compose
# at them, one NAME=image a line, on stdout; what it does and how long each took on stderr.
#
# Each stand-in is a folder under standins/: setup.sh makes the image's root file system in
# $ROOT (from the Debian base, or empty for the runtime image), and `changes` holds the image's
# settings (docker import --change lines). No Dockerfile: on the vfs storage driver every build
# step copies the whole file system, an import copies it once.
#
# Each image is tagged with a hash of its inputs (its folder, the base, this script's way of
# making it, and for the Go and runtime images the toolchain and the CA bundle they copy): one
# that exists already is not built again. The Debian base, made by debootstrap from this
# machine's own apt source (read here, never written anywhere), is cached as a tarball in
# $CHIRP_CACHE (/var/cache/chirp). Never an official image's name: those stay the real ones'.
# Needs root (debootstrap, chroot) and a Docker engine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CHIRP_CACHE:-/var/cache/chirp}/standins"
suite=bookworm
# Every package of the Debian stand-ins, so that one debootstrap serves them all.
packages=postgresql-15,nginx,gettext-base,wget

log() { printf 'standins: %s\n' "$*" >&2; }
hash() { sha256sum | cut -c1-16; }
# files_hash DIR: the names, modes and contents of DIR's files.
files_hash() { (cd "$1" && find . -type f -printf '%p %m\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | hash; }

mirror() {
	local m
	m=$(awk -v suite="$suite" '
		/^[[:space:]]*$/ { uris = "" }
		/^URIs:/ { uris = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uris != "") { print uris; exit } }
	' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [[ -z $m ]]; then
		m=$(awk -v suite="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($(i + 1) == suite && $i !~ /^\[/) { print $i; exit } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
	fi
	[[ -n $m ]] || { log "no Debian $suite source in /etc/apt/sources.list{,.d}"; return 1; }
	printf '%s\n' "$m"
}

# base_tarball: the Debian root file system, debootstrapped once per package list.
base_tarball() {
	local tarball="$cache/base-$(printf '%s %s' "$suite" "$packages" | hash).tar" root start=$SECONDS
	if [[ -s $tarball ]]; then
		log "the Debian base is cached ($tarball)"
	else
		command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; return 1; }
		mkdir -p "$cache"
		rm -f "$cache"/base-*.tar
		root="$work/base"
		debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$(mirror)" >&2
		rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
		tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$root"
		log "the Debian base made in $((SECONDS - start)) s ($tarball)"
	fi
	printf '%s\n' "$tarball"
}

# image VAR NAME FROM EXTRA: the stand-in standins/NAME, made from FROM (a base tarball, or
# "scratch") unless the tag of its inputs' hash (EXTRA among them) exists; prints VAR=tag.
image() {
	local var=$1 name=$2 from=$3 extra=$4 dir="$here/standins/$2" tag root start=$SECONDS
	local -a changes=()
	tag="chirp-standin-$name:$(printf '%s\n' "$(files_hash "$dir")" "$from" "$extra" "$(declare -f image)" | hash)"
	if docker image inspect "$tag" >/dev/null 2>&1; then
		log "$tag is there"
	else
		root="$work/$name"
		mkdir -p "$root"
		[[ $from == scratch ]] || tar -C "$root" --numeric-owner -xf "$from"
		ROOT="$root" "$dir/setup.sh" >&2
		while IFS= read -r line; do [[ -z $line ]] || changes+=(-c "$line"); done <"$dir/changes"
		tar -C "$root" --numeric-owner -c . | docker import "${changes[@]}" - "$tag" >/dev/null
		rm -rf "$root"
		# Older builds of this stand-in go (their layers with them).
		docker images --format '{{.Repository}}:{{.Tag}}' "chirp-standin-$name" | grep -vxF "$tag" | xargs -r docker rmi >/dev/null 2>&1 || true
		log "$tag built in $((SECONDS - start)) s"
	fi
	printf '%s=%s\n' "$var" "$tag"
}

work=$(mktemp -d /var/tmp/chirp-standins.XXXXXX)
trap 'rm -rf "$work"' EXIT
base=$(base_tarball)
ca=$(hash </etc/ssl/certs/ca-certificates.crt)
image POSTGRES_IMAGE postgres "$base" ""
image NGINX_IMAGE nginx "$base" ""
image GO_IMAGE go "$base" "$(go version) $ca"
image RUNTIME_IMAGE runtime scratch "$ca"
