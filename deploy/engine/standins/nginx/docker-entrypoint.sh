#!/bin/sh
# The official nginx image's entrypoint contract (https://hub.docker.com/_/nginx, "Using
# environment variables in nginx configuration"), as far as Chirp uses it: when the command is
# nginx, every file of /docker-entrypoint.d is taken in name order: an executable *.envsh is
# sourced (its exports reach what follows), an executable *.sh is run, anything else is skipped
# with a notice. 20-envsubst-on-templates.sh then renders the templates. Then nginx runs in the
# foreground as the container's main process.
set -e

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
	for f in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
		case "$f" in
		*.envsh)
			if [ -x "$f" ]; then
				echo "$0: Sourcing $f"
				. "$f"
			else
				echo "$0: Ignoring $f, not executable"
			fi
			;;
		*.sh)
			if [ -x "$f" ]; then
				echo "$0: Launching $f"
				"$f"
			else
				echo "$0: Ignoring $f, not executable"
			fi
			;;
		*) echo "$0: Ignoring $f" ;;
		esac
	done
	echo "$0: Configuration complete; ready for start up"
fi

exec "$@"
