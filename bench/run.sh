#!/usr/bin/env bash
# The benchmark of issue 5, in one command: installs what is missing, builds dbgen (release),
# then runs bench/run.py, which prints the markdown table and writes bench/results/latest.md.
#
#   bench/run.sh                 # the full run (median of 5; about 7 minutes on a quiet 2-core machine)
#   bench/run.sh --quick         # smoke test: 1 run, small N (writes bench/results/quick.md)
#   bench/run.sh --runs 3 --mysql --only apply,status
#   bench/run.sh --help          # every option of run.py
#
# Options of this script (the rest go to run.py):
#   --no-build     use target/release/dbgen as it is
#   --no-install   do not install sqlx-cli / knex when missing (their columns then read "—")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="$HERE/.cache"
SQLX_VERSION=0.9.0
KNEX_VERSION=3.3
mkdir -p "$CACHE"

build=1
install=1
args=()
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --no-install) install=0 ;;
    -h|--help) sed -n '2,12p' "$0"; echo; exec python3 "$HERE/run.py" --help ;;
    *) args+=("$a") ;;
  esac
done

say() { echo "bench: $*" >&2; }

# The sqlite3 CLI (the SQLite limit and the table checks).
if ! command -v sqlite3 >/dev/null; then
  say "installing Debian's sqlite3 package"
  if [ "$(id -u)" = 0 ]; then apt-get install -y sqlite3 >&2; else sudo apt-get install -y sqlite3 >&2; fi
fi
for tool in psql mariadb node npm cc; do
  command -v "$tool" >/dev/null || say "warning: $tool not found (the cases that need it will fail)"
done

SQLX="$CACHE/sqlx-cli/bin/sqlx"
if [ "$install" = 1 ] && ! { [ -x "$SQLX" ] && "$SQLX" --version 2>/dev/null | grep -q " $SQLX_VERSION"; }; then
  say "installing sqlx-cli $SQLX_VERSION into $CACHE/sqlx-cli (compiles for several minutes; log: $CACHE/sqlx-install.log)"
  if ! cargo install sqlx-cli --version "$SQLX_VERSION" --locked --no-default-features \
       --features rustls,postgres,sqlite,mysql --root "$CACHE/sqlx-cli" >"$CACHE/sqlx-install.log" 2>&1; then
    say "warning: sqlx-cli did not install (see $CACHE/sqlx-install.log); its column will read —"
  fi
fi

KNEX_DIR="$CACHE/knex"
knex_ok() {
  [ -f "$KNEX_DIR/node_modules/knex/bin/cli.js" ] &&
  (cd "$KNEX_DIR" && node -e "
    if (!require('knex/package.json').version.startsWith('$KNEX_VERSION.')) process.exit(1);
    require('pg'); require('mysql2'); new (require('better-sqlite3'))(':memory:');" 2>/dev/null)
}
if [ "$install" = 1 ] && ! knex_ok; then
  # better-sqlite3, not sqlite3: the npm sqlite3 package downloads prebuilt binaries, which fails here.
  say "installing knex $KNEX_VERSION, pg, mysql2, better-sqlite3 into $KNEX_DIR (log: $CACHE/knex-install.log)"
  mkdir -p "$KNEX_DIR"
  if ! npm install --prefix "$KNEX_DIR" "knex@$KNEX_VERSION" pg mysql2 better-sqlite3@12 >"$CACHE/knex-install.log" 2>&1 \
     || ! knex_ok; then
    say "warning: knex did not install (see $CACHE/knex-install.log); its column will read —"
  fi
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "$build" = 1 ]; then
  say "building dbgen (cargo build --release -p dbgen-cli)"
  (cd "$ROOT" && cargo build --release -p dbgen-cli) >&2
fi

export BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec python3 "$HERE/run.py" --dbgen "$TARGET_DIR/release/dbgen" --sqlx "$SQLX" \
  --knex "$KNEX_DIR/node_modules/knex/bin/cli.js" ${args[@]+"${args[@]}"}
