#!/usr/bin/env bash
# The fleet benchmark of issue 16, in one command: installs sqlx-cli when missing, builds
# dbgen (release) and the spawn helper, then runs bench/fleet/run.py, which prints the table
# and writes bench/results/fleet.md.
#
#   bench/fleet/run.sh             # the full run: 1,000 schemas, 200 databases, 10,000 schemas (about 15 minutes)
#   bench/fleet/run.sh --quick     # smoke test: 50 schemas, 10 databases, 200 schemas
#   bench/fleet/run.sh --no-sqlx   # leave sqlx-cli out (no install)
#   bench/fleet/run.sh --help      # every option of run.py
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; BENCH_PG_HOST/PORT/USER for
# another), psql, cc and python3.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
ROOT="$(dirname "$BENCH")"
CACHE="$BENCH/.cache"
mkdir -p "$CACHE"
say() { echo "fleet: $*" >&2; }

case " $* " in *" --help "*|*" -h "*) exec python3 "$HERE/run.py" --help ;; esac

if [[ " $* " != *" --no-sqlx "* ]] && [ ! -x "$CACHE/sqlx-cli/bin/sqlx" ]; then
  say "installing sqlx-cli 0.9.0 into $CACHE/sqlx-cli (several minutes, once)"
  cargo install sqlx-cli --version 0.9.0 --locked --no-default-features \
    --features rustls,postgres,sqlite,mysql --root "$CACHE/sqlx-cli" >"$CACHE/sqlx-install.log" 2>&1 \
    || say "warning: sqlx-cli did not install (see $CACHE/sqlx-install.log); its rows are left out"
fi
if [ ! -x "$CACHE/spawn" ] || [ "$BENCH/spawn.c" -nt "$CACHE/spawn" ]; then
  cc -O2 -static -o "$CACHE/spawn" "$BENCH/spawn.c" 2>/dev/null || cc -O2 -o "$CACHE/spawn" "$BENCH/spawn.c"
fi
say "building dbgen (release)"
(cd "$ROOT" && cargo build --release -p dbgen-cli >&2)
exec python3 "$HERE/run.py" "$@"
