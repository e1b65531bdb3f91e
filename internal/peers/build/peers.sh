#!/bin/sh
# peers.sh builds the real receivers the tests run the sinks against ("peers"),
# from Go modules at pinned versions, into a cache outside the repository:
#
#   $AUDITTRAIL_PEERS_DIR (default $HOME/.cache/audittrail-peers)/
#     ocb-<v>/builder                       OpenTelemetry Collector Builder
#     otelcol-peers-<v>/otelcol-peers       collector built by ocb from otelcol/builder-config.yaml
#     victoria-logs-<v>/victoria-logs       VictoriaLogs from the VictoriaMetrics module
#     toxiproxy-<v>/toxiproxy-server, toxiproxy-cli
#
# Each peer directory holds a .recipe file: the hash of everything the build
# depends on (this script, versions.env, the peer's manifest or wrapper module).
# A peer whose binary exists and whose .recipe matches is not rebuilt.
#
# Needs only Go and network access to the Go module proxy. Run through
# `make peers`. Environment: GO (go command), AUDITTRAIL_PEERS_DIR (cache),
# PEERS_UPDATE=1 (accept a changed collector go.mod/go.sum and copy it back
# into otelcol/, for when the manifest was edited on purpose).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
GO=${GO:-go}
root=${AUDITTRAIL_PEERS_DIR:-$HOME/.cache/audittrail-peers}
# The wrapper modules must not be pulled into a go.work of the caller.
export GOWORK=off

log() { printf 'peers: %s\n' "$*"; }
die() { printf 'peers: error: %s\n' "$*" >&2; exit 1; }

# fingerprint FILE... prints the SHA-256 of the files' concatenated contents.
fingerprint() {
	if command -v sha256sum >/dev/null 2>&1; then
		cat "$@" | sha256sum | cut -d' ' -f1
	else
		cat "$@" | shasum -a 256 | cut -d' ' -f1
	fi
}

# up_to_date DIR BINARY FINGERPRINT succeeds when DIR/BINARY was built from FINGERPRINT.
up_to_date() {
	[ -x "$1/$2" ] && [ "$(cat "$1/.recipe" 2>/dev/null)" = "$3" ]
}

# require_pin FILE TEXT fails unless FILE mentions TEXT (a module at its pinned version).
require_pin() {
	grep -qF "$2" "$1" || die "$1 does not pin '$2' (see versions.env)"
}

# scratch DIR sets $tmp to a fresh build directory inside DIR (so that the
# final mv is a rename on one file system); all are removed on exit.
scratches=""
trap 'for d in $scratches; do rm -rf "$d"; done' EXIT
trap 'exit 130' INT TERM
scratch() {
	mkdir -p "$1"
	tmp=$(mktemp -d "$1/.build.XXXXXX")
	scratches="$scratches $tmp"
}

# elapsed START prints the seconds since START (from `date +%s`).
elapsed() { echo "$(($(date +%s) - $1))s"; }

# build_ocb builds the Collector Builder, if missing, and sets $builder to its path.
build_ocb() {
	builder="$root/ocb-$OTELCOL_VERSION/builder"
	[ -x "$builder" ] && return
	log "building ocb $OTELCOL_VERSION (go install go.opentelemetry.io/collector/cmd/builder) -> $builder"
	scratch "$root/ocb-$OTELCOL_VERSION"
	GOBIN="$tmp" CGO_ENABLED=0 "$GO" install -trimpath \
		"go.opentelemetry.io/collector/cmd/builder@$OTELCOL_VERSION"
	mv "$tmp/builder" "$builder"
}

build_collector() {
	spec="$here/otelcol"
	dir="$root/otelcol-peers-$OTELCOL_VERSION"
	require_pin "$spec/builder-config.yaml" "otlpreceiver $OTELCOL_VERSION"
	require_pin "$spec/builder-config.yaml" "splunkhecreceiver $OTELCOL_VERSION"
	fp=$(fingerprint "$here/peers.sh" "$here/versions.env" "$spec/builder-config.yaml" "$spec/go.mod" "$spec/go.sum")
	if up_to_date "$dir" otelcol-peers "$fp"; then
		log "otelcol-peers $OTELCOL_VERSION up to date ($dir)"
		return
	fi
	start=$(date +%s)
	log "building otelcol-peers $OTELCOL_VERSION with ocb (otlp + splunk_hec receivers, file + debug exporters, ack + bearertokenauth + health_check extensions) -> $dir"
	build_ocb
	scratch "$dir"
	work=$tmp
	# ocb writes go.mod itself and runs `go mod tidy`; the committed go.sum
	# makes tidy verify every module against the pinned hashes. The checksum
	# database does not serve the contrib modules, hence GONOSUMDB.
	mkdir "$work/dist"
	[ ! -f "$spec/go.sum" ] || cp "$spec/go.sum" "$work/dist/go.sum"
	(cd "$work" && GONOSUMDB=github.com/open-telemetry/opentelemetry-collector-contrib \
		"$builder" --config="$spec/builder-config.yaml" --skip-compilation)
	# Before compiling: the resolved modules must be the committed ones.
	for f in go.mod go.sum; do
		if ! cmp -s "$work/dist/$f" "$spec/$f"; then
			if [ "${PEERS_UPDATE:-}" = 1 ]; then
				cp "$work/dist/$f" "$spec/$f"
				log "updated $spec/$f (review and commit it)"
				fp=$(fingerprint "$here/peers.sh" "$here/versions.env" "$spec/builder-config.yaml" "$spec/go.mod" "$spec/go.sum")
			else
				diff -u "$spec/$f" "$work/dist/$f" >&2 || true
				die "ocb resolved a different $f than $spec/$f; if the manifest changed on purpose, rerun with PEERS_UPDATE=1"
			fi
		fi
	done
	(cd "$work" && "$builder" --config="$spec/builder-config.yaml" --skip-generate --skip-get-modules)
	mv "$work/dist/otelcol-peers" "$dir/otelcol-peers"
	echo "$fp" >"$dir/.recipe"
	log "built otelcol-peers in $(elapsed "$start")"
}

# build_wrapped NAME VERSION WRAPPER LDFLAGS PACKAGE=BINARY... builds packages
# of a module pinned by the wrapper module in $here/WRAPPER (go.mod + go.sum,
# no Go files) into $root/NAME-VERSION/BINARY.
build_wrapped() {
	name=$1 version=$2 wrapper="$here/$3" ldflags=$4
	shift 4
	dir="$root/$name-$version"
	fp=$(fingerprint "$here/peers.sh" "$here/versions.env" "$wrapper/go.mod" "$wrapper/go.sum")
	first_bin=${1#*=}
	if up_to_date "$dir" "$first_bin" "$fp"; then
		log "$name $version up to date ($dir)"
		return
	fi
	start=$(date +%s)
	scratch "$dir"
	for pair in "$@"; do
		pkg=${pair%%=*} bin=${pair#*=}
		log "building $name $version ($pkg) -> $dir/$bin"
		(cd "$wrapper" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath \
			-ldflags="-s -w $ldflags" -o "$tmp/$bin" "$pkg")
	done
	for pair in "$@"; do
		mv "$tmp/${pair#*=}" "$dir/${pair#*=}"
	done
	echo "$fp" >"$dir/.recipe"
	log "built $name in $(elapsed "$start")"
}

total=$(date +%s)
log "cache: $root"
build_collector

require_pin "$here/victorialogs/go.mod" "github.com/VictoriaMetrics/VictoriaMetrics $VICTORIAMETRICS_VERSION"
build_wrapped victoria-logs "$VICTORIAMETRICS_VERSION" victorialogs \
	"-X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-$VICTORIAMETRICS_VERSION" \
	github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs=victoria-logs

require_pin "$here/toxiproxy/go.mod" "github.com/Shopify/toxiproxy/v2 $TOXIPROXY_VERSION"
build_wrapped toxiproxy "$TOXIPROXY_VERSION" toxiproxy \
	"-X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" \
	github.com/Shopify/toxiproxy/v2/cmd/server=toxiproxy-server \
	github.com/Shopify/toxiproxy/v2/cmd/cli=toxiproxy-cli

log "done in $(elapsed "$total")"
