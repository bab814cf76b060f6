#!/usr/bin/env bash
# The zero-touch site at scale: the site test (tests/it/site) with 1,000
# phones, a sixth of each vendor, spread over the local subnet and several
# relayed ones (giaddr + option 82, as a relay agent sends them). Prints the
# per-vendor table, the time from the first DISCOVER to the end of DHCP, of
# the file fetches and of the last 200 OK, and autoprov serve's CPU seconds
# and peak RSS over the run. Needs root (network namespaces), kamailio with
# kamailio-tls-modules, sipp, socat, curl and the scapy venv the DHCP
# tests use.
#
#   scripts/bench-site.sh [PHONES] [RELAYS] [WORKERS] [--release]
#
# PHONES 1000, RELAYS 4 (subnets 10.98.0-3.0/24 besides 10.99.0.0/24),
# WORKERS 16 (phones booting at once after DHCP). --release benchmarks a
# release build (a long build on a small machine); the default is the debug
# test build (autoprov's dependencies at opt-level 2, its own code not).
set -euo pipefail
cd "$(dirname "$0")/.."
phones=${1:-1000} relays=${2:-4} workers=${3:-16}
profile=()
[[ "${4:-}" == --release ]] && profile=(--release)
AUTOPROV_SITE_PHONES=$phones AUTOPROV_SITE_RELAYS=$relays AUTOPROV_SITE_WORKERS=$workers \
  nice cargo test "${profile[@]}" --test it site::site_bench -- --ignored --nocapture 2>&1 |
  grep -E '^\||^site:|^autoprov serve:|^test |panicked|failure' 
