#!/usr/bin/env bash
# Two builds of autoprov side by side on the same data, for a change that
# must not move the serving figures (a refactor): one server at a time on
# loopback, wrk with keep-alive (2 threads, 100 connections, 8 s) on the
# plain-HTTP bootstrap and the HTTPS main file of Alice's Yealink, the pair
# alternated ROUNDS times because this machine is noisy. Handshakes are
# bench-serve.sh's business; this measures the request path.
#
#   scripts/bench-compare.sh OLD_BIN NEW_BIN DATA_DIR [ROUNDS]
#
# DATA_DIR is a data directory with examples/users.csv imported (and a
# local CA made, e.g. by one `serve`); each run gets a copy of it.
set -euo pipefail
old=$1 new=$2 data=$3 rounds=${4:-3}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
ua='Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rps() { wrk -t2 -c100 -d8s -H "User-Agent: $ua" "$1" | awk '/Requests\/sec/{print $2}'; }

run() { # label binary
  local d="$work/$1"
  rm -rf "$d"; cp -r "$data" "$d"; rm -f "$d/admin.sock"
  "$2" --data "$d" serve --http 127.0.0.1:9080 --https 127.0.0.1:9443 --admin off >"$work/$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:9080/ && break; sleep 0.1; done
  local h s
  h=$(rps http://127.0.0.1:9080/805ec0123456.cfg)
  s=$(rps https://127.0.0.1:9443/805ec0123456.cfg)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-4s http %9s req/s   https %9s req/s   load %s\n' "$1" "$h" "$s" "$(cut -d' ' -f1 /proc/loadavg)"
}

for _ in $(seq "$rounds"); do
  run old "$old"
  run new "$new"
done
