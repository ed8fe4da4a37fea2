#!/bin/sh
# As the official image's script of this name: every /etc/nginx/templates/*.template becomes
# /etc/nginx/conf.d/* (the suffix dropped) through envsubst, substituting only the variables
# set in the environment, so that nginx's own $uri and the like pass through.
set -e
template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
[ -d "$template_dir" ] || exit 0

defined_envs=$(printf '${%s} ' $(awk 'END { for (name in ENVIRON) print name }' </dev/null))
find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
	relative_path="${template#"$template_dir/"}"
	output_path="$output_dir/${relative_path%"$suffix"}"
	mkdir -p "$(dirname "$output_path")"
	echo "$0: Running envsubst on $template to $output_path"
	envsubst "$defined_envs" <"$template" >"$output_path"
done
