#!/usr/bin/env bash
# The test-database benchmark (issue 15, item 5): how long a test waits for its database from
# dbgen (`dbgen_runtime::testing::fresh`, a clone of a template) and from a replay per test
# (what #[sqlx::test] does), for 1,000 and 50 migrations, on PostgreSQL and SQLite; the bare
# CREATE DATABASE ... TEMPLATE / file copy; and the wall time of `cargo test` over 50 tests.
#
#   bench/testing/run.sh               # everything; about 10 minutes on a quiet 2-core machine
#   bench/testing/run.sh --no-build    # reuse target/debug/dbgen and the app as built
#   bench/testing/run.sh --only pg50,lite50 --skip-t8
#
# Writes target/bench-testing/{results.csv,detail.csv,meta.json,report.md,logs/}; prints the
# report (bench/testing/report.py). Debug builds throughout: the default test profile.
# Needs PostgreSQL (DBGEN_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres,
# a user that may create databases), psql and python3. Every database and file it makes is
# removed at the end, also on failure or Ctrl-C; dbgen's templates of its four databases too.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$ROOT/target/bench-testing"
APP="$WORK/app"
LOGS="$WORK/logs"

ARGS="$*"
build=1
t8=1
only="pg50,pg1000,lite50,lite1000"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --skip-t8) t8=0 ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
IFS=, read -r -a DBS <<<"$only"

say() { echo "bench-testing: $*" >&2; }

export CARGO_TARGET_DIR="$ROOT/target/derive-project"
export DBGEN_TEST_POSTGRES_URL="${DBGEN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
unset DBGEN_TEST_DATABASE_URL RUST_TEST_THREADS CARGO_BUILD_TARGET RUSTFLAGS
for v in $(env | cut -d= -f1 | grep '_DB_' || true); do unset "$v"; done
PSQL=(psql -X -q -At "$DBGEN_TEST_POSTGRES_URL")

mkdir -p "$WORK"
rm -rf "$LOGS"
mkdir -p "$LOGS"
RESULTS="$WORK/results.csv"
DETAIL="$WORK/detail.csv"
META="$WORK/meta.json"
LOAD="$WORK/load.csv"
: >"$RESULTS"
: >"$DETAIL"
: >"$LOAD"
export BENCH_RESULTS="$RESULTS" BENCH_DETAIL="$DETAIL"

TMPDIR_="${TMPDIR:-/tmp}"
SQLITE_DIR="$TMPDIR_/dbgen-test"

# Removes what this benchmark makes: its replay and bare databases, dbgen's test databases
# and templates of its four databases (other projects' ones are left alone), their files.
cleanup() {
  local like
  for like in 'dbgen\_bench\_%' 'dbgen\_test\_pg1000\_%' 'dbgen\_test\_pg50\_%' \
              'dbgen\_tpl\_pg1000\_%' 'dbgen\_tpl\_pg50\_%' 'dbgen\_tpl\_%bench%'; do
    "${PSQL[@]}" -c "SELECT datname FROM pg_database WHERE datname LIKE '$like'" 2>/dev/null |
      while read -r db; do
        [ -n "$db" ] && "${PSQL[@]}" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
      done
  done
  rm -f "$SQLITE_DIR"/dbgen_tpl_lite1000_* "$SQLITE_DIR"/dbgen_tpl_lite50_* \
        "$SQLITE_DIR"/dbgen_test_lite1000_* "$SQLITE_DIR"/dbgen_test_lite50_*
  rm -rf "$TMPDIR_/dbgen-bench-replay"
}

sampler_pid=""
finish() {
  local rc=$?
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  say "cleaning up the server and $SQLITE_DIR"
  cleanup
  exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

# The machine's load every 5 s (other builds on a shared machine show up here).
(
  while true; do
    echo "$(date +%s),$(cut -d' ' -f1 /proc/loadavg),$(pgrep -c -x rustc || true)" >>"$LOAD"
    sleep 5
  done
) &
sampler_pid=$!

started=$(date +%s.%N)
commit_start=$(git -C "$ROOT" rev-parse --short HEAD)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$build" = 1 ]; then
  say "building dbgen (cargo build -p dbgen-cli)"
  (cd "$ROOT" && cargo build -q -p dbgen-cli)
fi
say "writing the app in $APP"
python3 "$HERE/gen_app.py" --out "$APP" --dbgen "$ROOT/target/debug/dbgen" >&2
say "building its tests (cargo test --no-run, debug, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$APP" && cargo test --offline -q --no-run 2>"$LOGS/build.log") || { cat "$LOGS/build.log" >&2; exit 1; }

say "removing old templates and test databases of this benchmark"
cleanup

quiet() {
  sync
  "${PSQL[@]}" -c CHECKPOINT >/dev/null
}

# run_group LABEL FILTER [cargo test args after --]: times `cargo test` over one group.
run_group() {
  local label="$1" filter="$2"
  shift 2
  quiet
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  (cd "$APP" && cargo test --offline -- "$filter" "$@") >"$LOGS/$label.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  # dbgen-runtime is a path dependency on a working tree others commit to: a rebuild means
  # the code under test changed during the run (and its wall time holds the build).
  if grep -q "Compiling" "$LOGS/$label.log"; then
    say "warning: $label rebuilt the app (dbgen-runtime changed during the run?): its results mix two versions"
    echo "rebuilt,$label,0" >>"$RESULTS"
  fi
  # Another build in the shared target folder holds cargo's lock: the wall time is not ours.
  if grep -q "Blocking waiting for file lock" "$LOGS/$label.log"; then
    say "warning: $label waited for cargo's build-directory lock (another build); its wall time includes that wait"
    echo "blocked,$label,0" >>"$RESULTS"
  fi
  if [ "$rc" != 0 ]; then
    tail -40 "$LOGS/$label.log" >&2
    say "$label failed (log: $LOGS/$label.log)"
    exit 1
  fi
  local ms
  ms=$(python3 -c "print(f'{($t1 - $t0) * 1000:.1f}')")
  say "$label: $ms ms"
  echo "$ms"
}

say "building the templates (wait::warm, one test at a time)"
for db in "${DBS[@]}"; do
  run_group "warm-$db" "wait::warm::$db" --test-threads 1 >/dev/null
  ms=$(sed -n "s/.*dbgen: built template dbgen_tpl_${db}_[0-9a-f]*_[0-9a-f]* in \([0-9]*\) ms$/\1/p" "$LOGS/warm-$db.log" | head -1)
  [ -n "$ms" ] && echo "build,$db,$ms" >>"$RESULTS"
done

# Per database, close in time: the bare measurements (one test at a time), dbgen's group with
# the default test threads, the bare clone or copy again, the replay's group, then both
# groups with --test-threads 8.
for db in "${DBS[@]}"; do
  run_group "bare-$db" "wait::bare_$db::" --test-threads 1 >/dev/null
  ms=$(BENCH_TAG="" run_group "dbgen-$db" "wait::dbgen_$db::")
  echo "suite-dbgen,$db,$ms" >>"$RESULTS"
  # The server's clone time drifts with the shared disk: sampled again right after dbgen's
  # group, and the report's bare median pools both samples.
  case "$db" in
    pg*) BENCH_TAG="-after" run_group "bare-$db-after" "wait::bare_$db::clone" --exact --test-threads 1 >/dev/null ;;
    *) BENCH_TAG="-after" run_group "bare-$db-after" "wait::bare_$db::copy" --exact --test-threads 1 >/dev/null ;;
  esac
  ms=$(BENCH_TAG="" run_group "replay-$db" "wait::replay_$db::")
  echo "suite-replay,$db,$ms" >>"$RESULTS"
  if [ "$t8" = 1 ]; then
    for mode in dbgen replay; do
      ms=$(BENCH_TAG="-t8" run_group "$mode-$db-t8" "wait::${mode}_$db::" --test-threads 8)
      echo "suite-$mode-t8,$db,$ms" >>"$RESULTS"
    done
  fi
done
case "$only" in
  *pg*) run_group bare-server "wait::bare_server::" --test-threads 1 >/dev/null ;;
esac

ended=$(date +%s.%N)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""

commit=$(git -C "$ROOT" rev-parse --short HEAD)
dirty=$(git -C "$ROOT" status --porcelain -- runtime core macros | wc -l)
pg_version=$("${PSQL[@]}" -c "SHOW server_version")
# The SQLite compiled in: the bundled source of the libsqlite3-sys the app's lock file names.
lsv=$(awk '/^name = "libsqlite3-sys"/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$APP/Cargo.lock")
sqlite_version=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' \
  "$(ls -d "$HOME"/.cargo/registry/src/*/"libsqlite3-sys-$lsv"/sqlite3/sqlite3.h 2>/dev/null | head -1)" 2>/dev/null || true)
python3 - "$META" <<EOF
import json, sys, datetime
start, end = $started, $ended
fmt = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
json.dump({
    "command": "bench/testing/run.sh $ARGS".strip(),
    "start": fmt(start), "end": fmt(end), "seconds": round(end - start),
    "commit": "$commit", "commit_start": "$commit_start", "dirty_runtime_files": $dirty,
    "postgres": "$pg_version", "sqlite": "$sqlite_version",
    "cores": $(nproc), "load_start": "$load_start", "load_end": "$load_end",
    "t8": $t8,
}, open(sys.argv[1], "w"), indent=1)
EOF
python3 "$HERE/report.py" "$RESULTS" --detail "$DETAIL" --meta "$META" --load "$LOAD" --out "$WORK/report.md"
