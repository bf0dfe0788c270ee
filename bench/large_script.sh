#!/usr/bin/env bash
# Issue 13's large-script case: one SQLite migration of 16 MiB of INSERTs, applied by dbgen
# and by the sqlite3 shell (the same script in one transaction), median of 3 runs each.
# SQLite compiles a script statement by statement and copies the rest of it each time, so a
# script sent in one piece takes time that grows with the square of its size; dbgen sends
# large scripts in pieces of whole statements. The target: within 3x of the shell.
#
#   bench/large_script.sh            # 16 MiB; writes bench/results/large_script.md
#   bench/large_script.sh 64         # another size, in MiB
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
MIB="${1:-16}"
command -v sqlite3 >/dev/null || apt-get install -y -qq sqlite3 >/dev/null
(cd "$ROOT" && cargo build --release -q -p dbgen-cli)
DBGEN="${CARGO_TARGET_DIR:-$ROOT/target}/release/dbgen"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/database/app/migrations"
echo 'driver = "sqlite"' >"$WORK/database/app/database.toml"
python3 - "$WORK/database/app/migrations/1_big.up.sql" "$MIB" <<'PY'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
row = "INSERT INTO big (id, label) VALUES ({}, 'a row of a large seed script, long enough to count');\n"
with open(path, "w") as f:
    f.write("CREATE TABLE big (id INTEGER, label VARCHAR(100));\n")
    size, i = 0, 0
    while size < mib << 20:
        line = row.format(i)
        f.write(line)
        size += len(line)
        i += 1
PY
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_it() { # time_it COMMAND...: seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}
shell_run() {
  rm -f "$WORK/shell.sqlite3"
  { echo "BEGIN;"; cat "$WORK/database/app/migrations/1_big.up.sql"; echo "COMMIT;"; } | sqlite3 "$WORK/shell.sqlite3"
}
dbgen_run() {
  rm -f "$WORK/app.sqlite3"
  (cd "$WORK" && "$DBGEN" migrate latest app)
}
shell=$(for _ in 1 2 3; do time_it shell_run; done | median)
dbgen=$(for _ in 1 2 3; do time_it dbgen_run; done | median)
ratio=$(python3 -c "print(f'{$dbgen / $shell:.2f}')")
rows=$(sqlite3 "$WORK/app.sqlite3" "SELECT COUNT(*) FROM big")
out="$HERE/results/large_script.md"
{
  echo "# One ${MIB} MiB SQLite migration ($rows INSERTs), median of 3"
  echo
  echo "| sqlite3 shell, one transaction | dbgen migrate latest | dbgen / shell (target ≤ 3) |"
  echo "|---|---|---|"
  printf '| %.2f s | %.2f s | %s× |\n' "$shell" "$dbgen" "$ratio"
  echo
  echo "Commit $(cd "$ROOT" && git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(nproc) cores, 1-minute load $(cut -d' ' -f1 /proc/loadavg) at the end."
} | tee "$out"
