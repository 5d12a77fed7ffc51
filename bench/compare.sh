#!/usr/bin/env bash
# Measures hotline's link side by side with NATS JetStream and the raw
# Ed25519 rates, in interleaved rounds (see bench/compare/main.go), and
# prints the figures as ratios. Builds hotline from this checkout, and
# nats-server v2.15.2 from the Go module proxy into a cache directory.
#
#   bench/compare.sh                     # 3 rounds, catch-up of 100,000
#   bench/compare.sh --rounds 1 --messages 5000 --catchup 10000
#
# Any flag is passed on to the compare command (go run ./bench/compare -h
# in bench/compare lists them). Takes about 2 minutes a round on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${HOTLINE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hotline-bench}"
mkdir -p "$cache"

nats_version=v2.15.2
if ! "$cache/nats-server" --version 2>/dev/null | grep -q "${nats_version#v}"; then
	echo "building nats-server $nats_version into $cache ..." >&2
	GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$cache" go install "github.com/nats-io/nats-server/v2@$nats_version"
fi
echo "building hotline and the compare command ..." >&2
CGO_ENABLED=0 go build -o "$cache/hotline" ./cmd/hotline
(cd bench/compare && CGO_ENABLED=0 go build -o "$cache/compare" .)

exec "$cache/compare" --hotline "$cache/hotline" --nats-server "$cache/nats-server" "$@"
