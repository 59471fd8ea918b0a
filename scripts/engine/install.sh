#!/usr/bin/env bash
# Builds the Pulumi engine this project's tests run under, from Go modules, once per version set:
#   bin/      pulumi (CLI), pulumi-language-nodejs, pulumi-resource-pulumi-nodejs (dynamic providers)
#   home/     a PULUMI_HOME with the tls and command provider plugins installed under the versions the
#             npm packages ask for (kept off PATH: the engine would otherwise prefer them, with a warning)
# in ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-mtls-nginx/engine/<versions>/. Later runs reuse it in seconds.
#
# Usage: scripts/engine/install.sh            build or reuse; print the directory
#        scripts/engine/install.sh --env      build or reuse; print shell exports (eval "$(... --env)")
#        scripts/engine/install.sh --dir      print the directory without building (exit 3 when not built)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR
# shellcheck source=versions.sh
. "$here/versions.sh"

die() { printf 'engine install: %s\n' "$*" >&2; exit 1; }
log() { printf 'engine install: %s\n' "$*" >&2; }

# The version a Pulumi npm package asks its plugin for (package-lock.json, so it works before npm ci).
npm_plugin_version() {
    node -e '
        const lock = require(process.argv[1]);
        const entry = lock.packages && lock.packages["node_modules/" + process.argv[2]];
        if (!entry || !entry.version) { console.error(process.argv[2] + " is not in package-lock.json"); process.exit(1); }
        console.log(entry.version);
    ' "$project/package-lock.json" "$1"
}

tls_version=$(npm_plugin_version @pulumi/tls)
command_version=$(npm_plugin_version @pulumi/command)
# Our own sources (wrapper modules, shim, stand-in, scripts) are part of the key: editing them rebuilds.
sources_hash=$(cd "$here" && find . -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
key="cli-${PULUMI_CLI_VERSION}_nodejs-${LANGHOST_VERSION}_tls-${tls_version}_command-${command_version}_src-${sources_hash}"
root="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-mtls-nginx/engine"
dir="$root/$key"

print_env() {
    # shellcheck disable=SC2016 # $PATH is for the shell that evals this line
    printf 'export PATH=%q:"$PATH"\n' "$dir/bin"
    printf 'export PULUMI_HOME=%q\n' "$dir/home"
    printf 'export PULUMI_SKIP_UPDATE_CHECK=true\n'
    printf 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n'
}

mode=${1:-}
case "$mode" in
    ""|--env) ;;
    --dir) [ -f "$dir/.complete" ] || exit 3; printf '%s\n' "$dir"; exit 0 ;;
    *) die "unknown option $mode (use --env or --dir)" ;;
esac

finish() {
    if [ "$mode" = --env ]; then print_env; else printf '%s\n' "$dir"; fi
    exit 0
}
[ -f "$dir/.complete" ] && finish

command -v go >/dev/null || die "Go is required to build the engine (Go ${GO_MIN} or later)"
command -v node >/dev/null || die "Node.js is required"
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
[ -f "$dir/.complete" ] && finish   # another run finished it while we waited

export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
build="$dir.build.$$"
rm -rf "$build" && mkdir -p "$build/bin" "$build/plugins" "$build/src"
trap 'rm -rf "$build"' EXIT
started=$(date +%s)

# Each module is built from a copy, so generated files (the tls schema) never land in the repository.
build_module() { # <module dir> <package> <output> <ldflags>
    local src="$build/src/$1"
    [ -d "$src" ] || cp -r "$here/$1" "$src"
    log "building $(basename "$3") from $1 ($2)"
    (cd "$src" && go build -trimpath -ldflags "-s -w $4" -o "$3" "$2")
}

build_module cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$build/bin/pulumi" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_CLI_VERSION}"
build_module langhost github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 "$build/bin/pulumi-language-nodejs" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${LANGHOST_VERSION}"
cp "$here/pulumi-resource-pulumi-nodejs" "$build/bin/" && chmod 0755 "$build/bin/pulumi-resource-pulumi-nodejs"

# tls: generate the schema and bridge metadata with our tfgen, then embed them in the provider.
tls_flags="-X pulumi-mtls-nginx/engine/tls/info.Version=${tls_version}"
build_module tls ./cmd/pulumi-tfgen-tls "$build/tfgen-tls" "$tls_flags"
"$build/tfgen-tls" schema --skip-docs --skip-examples --out "$build/src/tls/cmd/pulumi-resource-tls" >"$build/tfgen.log" 2>&1 \
    || { cat "$build/tfgen.log" >&2; die "tfgen failed"; }
build_module tls ./cmd/pulumi-resource-tls "$build/plugins/pulumi-resource-tls" "$tls_flags"

build_module command . "$build/plugins/pulumi-resource-command" "-X main.version=${command_version}"

# Register the plugins in our own PULUMI_HOME under the versions the npm packages request.
mkdir -p "$build/home"
PULUMI_HOME="$build/home" PULUMI_SKIP_UPDATE_CHECK=true "$build/bin/pulumi" plugin install resource tls "$tls_version" \
    --file "$build/plugins/pulumi-resource-tls" >/dev/null
PULUMI_HOME="$build/home" PULUMI_SKIP_UPDATE_CHECK=true "$build/bin/pulumi" plugin install resource command "$command_version" \
    --file "$build/plugins/pulumi-resource-command" >/dev/null

# The plugins now live in home/plugins; the build copies are not needed.
rm -rf "$build/src" "$build/plugins" "$build/tfgen-tls" "$build/tfgen.log"
printf 'built %s in %ss with %s\n' "$key" "$(($(date +%s) - started))" "$(go version)" >"$build/.complete"
rm -rf "$dir" && mv "$build" "$dir"
trap - EXIT
log "built in $(($(date +%s) - started))s: $dir"
finish
