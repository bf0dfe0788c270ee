#!/usr/bin/env bash
# Compile time of embedding migrations: #[derive(Databases)] against sqlx::migrate!.
#
#   bench/compile_time.sh [N] [ROUNDS]      N migrations per database (default 1000), 3 databases
#
# Generates throwaway crates in a temporary folder, each embedding 3 x N reversible migrations
# (an up and a down file each, the same SQL for both tools):
#   derive-app  one #[derive(Databases)] enum with 3 variants, depending on dbgen-runtime
#   sqlx-app    three sqlx::migrate!("migrations/<db>") statics, sqlx with `migrate` + `macros`
# Both have the build.rs that makes a new migration file rebuild the crate. The two link
# different dependencies (dbgen-runtime brings three drivers and clap), so each also gets a
# baseline twin with the same code and no migrations (derive-base, sqlx-base): the cost of
# embedding the migrations is a crate's time minus its baseline's.
#
# Dependencies are built first and not timed (target folder: target/bench-compile of this
# workspace, so they are compiled once across runs). Then, ROUNDS times (default 3), for each
# crate and with `cargo build` (debug):
#   full         the app crate alone, from nothing (`cargo clean -p` of that crate only)
#   incremental  after adding one more migration to the first database
# and the fastest round of each is reported. With BENCH_KEEP=1 the generated crates are kept.
set -euo pipefail
N=${1:-1000}
ROUNDS=${2:-3}
WORKSPACE=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR="$WORKSPACE/target/bench-compile"
CARGO=${CARGO:-cargo}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dbgen-compile-time.XXXXXX")
if [ "${BENCH_KEEP:-0}" = 1 ]; then
  echo "generated crates kept in $WORK" >&2
else
  trap 'rm -rf "$WORK"' EXIT
fi
DBS=(accounts billing audit)

log() { printf '== %s\n' "$*" >&2; }

# migration FOLDER VERSION: one up/down pair creating a small table.
migration() {
  local dir=$1 version=$2
  local table="t_${version}"
  printf -- '-- Migration %s\nCREATE TABLE %s (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n    created_at INTEGER NOT NULL\n);\nCREATE INDEX %s_name ON %s (name);\n' \
    "$version" "$table" "$table" "$table" >"$dir/${version}_create_${table}.up.sql"
  printf -- 'DROP TABLE %s;\n' "$table" >"$dir/${version}_create_${table}.down.sql"
}

# migrations FOLDER COUNT
migrations() {
  local dir=$1 count=$2 i
  mkdir -p "$dir"
  for ((i = 1; i <= count; i++)); do
    migration "$dir" $((20250000000000 + i))
  done
}

# build_rs CRATE WATCHED
build_rs() {
  printf 'fn main() {\n    println!("cargo:rerun-if-changed=%s");\n}\n' "$2" >"$1/build.rs"
}

# manifest CRATE NAME DEPENDENCY_LINE
manifest() {
  printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2024"\n\n[dependencies]\n%s\n' \
    "$2" "$3" >"$1/Cargo.toml"
  # The workspace's lock file: the same crate versions, already downloaded.
  cp "$WORKSPACE/Cargo.lock" "$1/Cargo.lock"
}

# derive_app NAME COUNT: dbgen's layout, database/<name>/{database.toml,migrations/}.
derive_app() {
  local dir="$WORK/$1" db
  mkdir -p "$dir/src"
  manifest "$dir" "$1" "dbgen-runtime = { path = \"$WORKSPACE/runtime\" }"
  build_rs "$dir" database
  for db in "${DBS[@]}"; do
    mkdir -p "$dir/database/$db"
    printf 'driver = "sqlite"\n' >"$dir/database/$db/database.toml"
    migrations "$dir/database/$db/migrations" "$2"
  done
  cat >"$dir/src/main.rs" <<'RUST'
use dbgen_runtime::Databases;

#[derive(Debug, Clone, Copy, dbgen_runtime::Databases)]
enum Database {
    Accounts,
    Billing,
    Audit,
}

fn main() {
    for db in Database::ALL {
        println!("{}: {} migrations", db.name(), db.migrations().len());
    }
}
RUST
}

# sqlx_app NAME COUNT: sqlx's layout, one folder per database.
sqlx_app() {
  local dir="$WORK/$1" db
  mkdir -p "$dir/src"
  manifest "$dir" "$1" 'sqlx = { version = "0.9", default-features = false, features = ["runtime-tokio", "sqlite-bundled", "migrate", "macros"] }'
  build_rs "$dir" migrations
  for db in "${DBS[@]}"; do
    migrations "$dir/migrations/$db" "$2"
  done
  cat >"$dir/src/main.rs" <<'RUST'
use sqlx::migrate::Migrator;

static ACCOUNTS: Migrator = sqlx::migrate!("migrations/accounts");
static BILLING: Migrator = sqlx::migrate!("migrations/billing");
static AUDIT: Migrator = sqlx::migrate!("migrations/audit");

fn main() {
    for (name, migrator) in [("accounts", &ACCOUNTS), ("billing", &BILLING), ("audit", &AUDIT)] {
        // A reversible migration is two entries, up and down.
        let ups = migrator.iter().filter(|m| m.migration_type.is_up_migration()).count();
        println!("{name}: {ups} migrations");
    }
}
RUST
}

log "generating 3 x $N migrations per crate in $WORK"
derive_app derive-app "$N"
derive_app derive-base 0
sqlx_app sqlx-app "$N"
sqlx_app sqlx-base 0

# build CRATE_DIR: offline first (everything cached), else let cargo fetch.
build() {
  (cd "$1" && { "$CARGO" build --quiet --offline 2>/dev/null || "$CARGO" build --quiet; })
}

# seconds CMD...: runs the command quietly, prints its wall time in seconds.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; return 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

min() { printf '%s\n' "$@" | sort -g | head -n 1; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

next_version=$((20250000000000 + N))
declare -A FULL INCR
for app in derive-base derive-app sqlx-base sqlx-app; do
  dir="$WORK/$app"
  log "$app: building dependencies (not timed)"
  build "$dir" >/dev/null
  full=() incr=()
  for ((round = 1; round <= ROUNDS; round++)); do
    (cd "$dir" && "$CARGO" clean --quiet -p "$app")
    full+=("$(seconds build "$dir")")
    next_version=$((next_version + 1))
    case $app in
      derive-*) migration "$dir/database/accounts/migrations" "$next_version" ;;
      sqlx-*) migration "$dir/migrations/accounts" "$next_version" ;;
    esac
    incr+=("$(seconds build "$dir")")
    log "$app round $round: full ${full[-1]} s, incremental ${incr[-1]} s"
  done
  FULL[$app]=$(min "${full[@]}")
  INCR[$app]=$(min "${incr[@]}")
  # The binary sees every migration, the added ones included.
  out=$("$CARGO_TARGET_DIR/debug/$app")
  log "$app: ${out%%$'\n'*}"
done

printf '\n%s\n' "cargo build (debug) of the app crate alone (dependencies built), best of $ROUNDS:"
printf '%-42s %8s %13s\n' "" "full" "incremental"
row() { printf '%-42s %7ss %12ss\n' "$@"; }
row "#[derive(Databases)], 3 x $N migrations" "${FULL[derive-app]}" "${INCR[derive-app]}"
row "#[derive(Databases)], no migrations" "${FULL[derive-base]}" "${INCR[derive-base]}"
row "sqlx::migrate! x 3, 3 x $N migrations" "${FULL[sqlx-app]}" "${INCR[sqlx-app]}"
row "sqlx::migrate! x 3, no migrations" "${FULL[sqlx-base]}" "${INCR[sqlx-base]}"
printf '%s\n' "embedding the migrations (crate minus its baseline):"
row "#[derive(Databases)]" "$(minus "${FULL[derive-app]}" "${FULL[derive-base]}")" \
  "$(minus "${INCR[derive-app]}" "${INCR[derive-base]}")"
row "sqlx::migrate!" "$(minus "${FULL[sqlx-app]}" "${FULL[sqlx-base]}")" \
  "$(minus "${INCR[sqlx-app]}" "${INCR[sqlx-base]}")"
