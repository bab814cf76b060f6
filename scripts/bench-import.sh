#!/usr/bin/env bash
# Import benchmark: prints figures against the product's quality bars.
#
# Usage: scripts/bench-import.sh [N]        (default N=100000, ~15 MB of CSV)
#
# Builds `cargo build --release`, generates N users with phones
# (scripts/gen_users.py, with and without a web_password column), then measures
# each step BENCH_RUNS times (default 3) and reports the median wall time and
# the highest peak RSS seen:
#   (a) dry run:   autoprov --data <fresh dir> import FILE --dry-run --format json --no-progress
#   (b) apply:     the same without --dry-run, into a fresh empty data dir
#   (c) re-import: the same file again into the store of (b) (expects all unchanged)
#   (d) apply of the web_password variant into a fresh dir (password hashing)
#   (e) baseline:  scripts/baseline_sqlite.py (python csv + sqlite3) into a fresh file
# Every autoprov report is checked (summary.created == N for (a), (b), (d),
# summary.unchanged == N for (c), no errors); any failed run exits non-zero.
# Missing a target is reported, not fatal, unless BENCH_STRICT=1.
# BENCH_BIN=/path/to/autoprov skips the build and measures that binary;
# BENCH_KEEP=1 keeps the temp dir (CSVs, JSON reports) for inspection;
# BENCH_WEB=0 skips (d) (about 20 s a run of argon2 hashing).
# The load average is printed before and after, and the last table puts
# autoprov's steps and the Python script side by side (wall, peak RSS, ratio).
#
# Needs: cargo, python3, GNU time at /usr/bin/time (installed with apt-get if
# missing). Tested on Debian 12.
set -euo pipefail

N=${1:-100000}
RUNS=${BENCH_RUNS:-3}
STRICT=${BENCH_STRICT:-0}
WEB=${BENCH_WEB:-1}

case $N in '' | *[!0-9]*) echo "usage: $0 [N]  (N = number of users, default 100000)" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS=$ROOT/scripts
# The benchmark runs on autoprov's defaults, whatever the caller's environment says.
unset AUTOPROV_DATA AUTOPROV_CONFIG

log() { echo "bench-import: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# --- GNU time -----------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
    log "/usr/bin/time missing: installing the Debian package 'time'"
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    if ! $SUDO apt-get install -y -qq time >&2; then
        $SUDO apt-get update -qq >&2
        $SUDO apt-get install -y -qq time >&2
    fi
    [ -x /usr/bin/time ] || die "could not install GNU time"
fi

# --- build ----------------------------------------------------------------------
FIND_EXE='
import json, sys
exe = ""
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and m.get("target", {}).get("name") == "autoprov":
        exe = m["executable"]
print(exe)
'
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN # an already-built binary; skips the build
else
    log "cargo build --release"
    # cargo's JSON messages name the executable wherever the target dir is.
    BIN=$(cd "$ROOT" && cargo build --release --message-format=json-render-diagnostics |
        python3 -c "$FIND_EXE") || die "cargo build --release failed"
fi
[ -n "$BIN" ] && [ -x "$BIN" ] || die "no autoprov binary (cargo build did not produce one?)"
log "binary: $BIN"

# --- workspace ------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-import.XXXXXX")
if [ "${BENCH_KEEP:-0}" = 1 ]; then
    trap 'log "kept $TMP"' EXIT
else
    trap 'rm -rf "$TMP"' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CSV=$TMP/users.csv
CSV_WEB=$TMP/users-web.csv
log "generating $N users"
python3 "$SCRIPTS/gen_users.py" "$N" "$CSV"
python3 "$SCRIPTS/gen_users.py" "$N" "$CSV_WEB" --web-password

# timed STEP OUT CMD...: runs CMD under GNU time with stdout → OUT, stderr → OUT.err,
# appends "wall_s rss_kb" to $TMP/STEP.times; a non-zero exit aborts the benchmark.
timed() {
    local step=$1 out=$2
    shift 2
    local tf=$TMP/.time
    local rc=0
    /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$out" 2>"$out.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "step '$step' exited with status $rc: $*"
        echo "--- stderr (last 20 lines):" >&2
        tail -n 20 "$out.err" >&2 || true
        echo "--- stdout (first 2000 bytes):" >&2
        head -c 2000 "$out" >&2 || true
        echo >&2
        exit 1
    fi
    tail -n 1 "$tf" >>"$TMP/$step.times"
}

# check_report STEP JSON DRY_RUN KEY: the report is one JSON object with
# summary.KEY == N, no errors, and the expected dry_run/applied flags.
check_report() {
    python3 - "$1" "$2" "$3" "$4" "$N" <<'EOF' || exit 1
import json, sys
step, path, dry, key, n = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
def fail(msg):
    sys.exit("bench-import: FAILED: step '%s': %s" % (step, msg))
try:
    with open(path, encoding="utf-8") as f:
        r = json.load(f)
except ValueError as e:
    fail("stdout is not one JSON object: %s" % e)
s = r.get("summary") or {}
if r.get("dry_run") is not dry:
    fail("dry_run is %r, expected %r" % (r.get("dry_run"), dry))
if not dry and r.get("applied") is not True:
    fail("applied is %r, expected true" % r.get("applied"))
if s.get("errors", 0) != 0 or r.get("errors"):
    fail("%s errors, first: %s" % (s.get("errors"), (r.get("errors") or [None])[0]))
if s.get(key) != n:
    fail("summary.%s = %r, expected %d (summary: %s)" % (key, s.get(key), n, s))
rows = (r.get("file") or {}).get("rows")
if rows is not None and rows != n:
    fail("file.rows = %r, expected %d" % (rows, n))
if s.get("warnings") or r.get("warnings"):
    print("bench-import: note: step '%s': %s warnings, first: %s"
          % (step, s.get("warnings"), (r.get("warnings") or [None])[0]), file=sys.stderr)
EOF
}

# (a) dry run into a fresh dir
for i in $(seq "$RUNS"); do
    log "(a) dry run $i/$RUNS"
    d=$TMP/dry.$i
    timed dry "$TMP/dry.$i.json" "$BIN" --data "$d" import "$CSV" --dry-run --format json --no-progress
    check_report "dry run $i" "$TMP/dry.$i.json" 1 created
    rm -rf "$d"
done

# (b) apply into a fresh empty dir; the last store is kept for (c)
for i in $(seq "$RUNS"); do
    log "(b) apply $i/$RUNS"
    d=$TMP/apply.$i
    timed apply "$TMP/apply.$i.json" "$BIN" --data "$d" import "$CSV" --format json --no-progress
    check_report "apply $i" "$TMP/apply.$i.json" 0 created
    STORE=$d
    if [ "$i" -lt "$RUNS" ]; then rm -rf "$d"; fi
done
du_store=$(du -sk "$STORE" | cut -f1)

# (c) re-import of the same file: nothing may change
for i in $(seq "$RUNS"); do
    log "(c) re-import $i/$RUNS"
    timed reimport "$TMP/reimport.$i.json" "$BIN" --data "$STORE" import "$CSV" --format json --no-progress
    check_report "re-import $i" "$TMP/reimport.$i.json" 0 unchanged
done
rm -rf "$STORE"

# (d) apply of the web_password variant into a fresh dir
WEB_RUNS=$RUNS
if [ "$WEB" = 0 ]; then WEB_RUNS=0; : >"$TMP/web.times"; fi
for i in $(seq "$WEB_RUNS"); do
    log "(d) apply with web_password $i/$RUNS"
    d=$TMP/web.$i
    timed web "$TMP/web.$i.json" "$BIN" --data "$d" import "$CSV_WEB" --format json --no-progress
    check_report "apply web_password $i" "$TMP/web.$i.json" 0 created
    rm -rf "$d"
done

# (e) the python csv + sqlite3 baseline into a fresh file
for i in $(seq "$RUNS"); do
    log "(e) python baseline $i/$RUNS"
    timed baseline "$TMP/baseline.$i.out" python3 "$SCRIPTS/baseline_sqlite.py" "$CSV" "$TMP/baseline.$i.db"
    rm -f "$TMP/baseline.$i.db"
done

# --- report -------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
rev=$({ "$BIN" --version 2>/dev/null || echo autoprov; } | head -n 1)
rev="$rev, git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "(no commit)")"
BENCH_TMP=$TMP BENCH_N=$N BENCH_RUNS=$RUNS BENCH_STRICT=$STRICT BENCH_CPU=$cpu BENCH_REV=$rev \
    BENCH_BIN=$BIN BENCH_CSV=$CSV BENCH_CSV_WEB=$CSV_WEB BENCH_STORE_KB=$du_store \
    BENCH_LOAD="$LOAD_BEFORE" BENCH_LOAD_AFTER="$LOAD_AFTER" python3 - <<'EOF'
import os, statistics, sys
env = os.environ
tmp, n, runs, strict = env["BENCH_TMP"], int(env["BENCH_N"]), int(env["BENCH_RUNS"]), env["BENCH_STRICT"] == "1"

def load(step):
    with open(os.path.join(tmp, step + ".times")) as f:
        vals = [line.split() for line in f if line.strip()]
    if not vals:
        return float("nan"), float("nan"), []
    walls = [float(w) for w, _ in vals]
    return statistics.median(walls), max(int(k) for _, k in vals) / 1024.0, walls

res = {s: load(s) for s in ("dry", "apply", "reimport", "web", "baseline")}
at_scale = n == 100000
print()
print("autoprov import benchmark: N=%d users, %d runs per step (median wall, max peak RSS)" % (n, runs))
print("machine: %d CPUs, %s; binary: %s" % (os.cpu_count(), env["BENCH_CPU"] or "unknown CPU", env["BENCH_REV"]))
print("CSV: %.1f MB (%.1f MB with web_password); store after apply: %.1f MB"
      % (os.path.getsize(env["BENCH_CSV"]) / 1e6, os.path.getsize(env["BENCH_CSV_WEB"]) / 1e6,
         int(env["BENCH_STORE_KB"]) / 1024.0))
print("command: %s --data DIR import FILE [--dry-run] --format json --no-progress" % env["BENCH_BIN"])
print("baseline: python3 scripts/baseline_sqlite.py FILE DB")
print("load average (1, 5, 15 min): before %s, after %s" % (env["BENCH_LOAD"], env["BENCH_LOAD_AFTER"]))
print()
missed = []
def verdict(ok, what):
    if not at_scale:
        return "-"
    if not ok:
        missed.append(what)
    return "ok" if ok else "MISS"

rows = [
    ("(a) dry run", "dry", 1.5, "< 1.5 s, < 400 MB"),
    ("(b) apply", "apply", None, "< 400 MB, 3x (e)"),
    ("(c) re-import (unchanged)", "reimport", None, "< 400 MB"),
    ("(d) apply + web_password", "web", None, "< 400 MB"),
    ("(e) python csv+sqlite3", "baseline", None, ""),
]
print("%-27s %9s %12s  %-20s %s" % ("step", "median s", "peak RSS MB", "target (N=100000)", "verdict"))
for label, step, wall_max, target in rows:
    med, rss, walls = res[step]
    if not walls:
        print("%-27s %9s %12s  %-20s %s" % (label, "skipped", "", target, ""))
        continue
    if step == "baseline":
        v = ""
    else:
        ok = rss < 400 and (wall_max is None or med < wall_max)
        v = verdict(ok, label)
    print("%-27s %9.2f %12.1f  %-20s %s   runs: %s"
          % (label, med, rss, target, v, " ".join("%.2f" % w for w in walls)))
apply_med = res["apply"][0]
ratio = res["baseline"][0] / apply_med if apply_med > 0 else float("inf")
print("%-27s %8.2fx %12s  %-20s %s" % ("baseline / apply", ratio, "", ">= 3x", verdict(ratio >= 3, "ratio")))
print()
print("side by side (median wall s / peak RSS MB):")
b_med, b_rss, _ = res["baseline"]
print("%-12s %16s %16s %16s   %s" % ("", "dry run", "apply", "re-import", "python csv+sqlite3"))
print("%-12s %16s %16s %16s   %s" % ("autoprov",
      *("%.2f / %.0f" % res[s][:2] for s in ("dry", "apply", "reimport")), ""))
print("%-12s %16s %16s %16s   %.2f / %.0f" % ("python", "-", "%.2f / %.0f" % (b_med, b_rss), "-", b_med, b_rss))
print("%-12s %16s %16s %16s" % ("python / us", "%.2fx" % (b_med / res["dry"][0]),
      "%.2fx" % ratio, "%.2fx" % (b_med / res["reimport"][0])))
if not at_scale:
    print("\n(targets are defined for N=100000; verdicts shown only at that size)")
elif missed:
    print("\nmissed targets: " + ", ".join(missed))
    if strict:
        sys.exit(1)
EOF
