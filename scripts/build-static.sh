#!/usr/bin/env bash
# Builds fully static Linux binaries (musl libc, rustls for TLS, bundled SQLite, no OpenSSL):
# copy one onto any x86_64 Linux server and run it there.
#
#   path/to/dbgen/scripts/build-static.sh              in your app's folder: your app's binaries
#   path/to/dbgen/scripts/build-static.sh -p myapp     any `cargo build` arguments
#   scripts/build-static.sh                            in this repository: dbgen-example and dbgen
#
# It builds the Cargo package (or workspace) of the current folder in release mode for
# x86_64-unknown-linux-musl, checks that `ldd` calls every binary built statically linked,
# and prints each one's path and size. Needs Debian's musl-tools (musl-gcc, for the C parts:
# SQLite, ring) and the Rust target x86_64-unknown-linux-musl; both are installed when
# missing (apt-get as root, rustup).
set -euo pipefail

TARGET=x86_64-unknown-linux-musl
log() { printf '== %s\n' "$*" >&2; }

if ! command -v musl-gcc >/dev/null; then
  log "installing musl-tools"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq musl-tools >/dev/null
fi
if ! rustup target list --installed | grep -qx "$TARGET"; then
  log "adding the Rust target $TARGET"
  rustup target add "$TARGET"
fi

args=("$@")
dbgen_root=$(cd "$(dirname "$0")/.." && pwd)
workspace=$(dirname "$(cargo locate-project --workspace --message-format plain)")
if [ ${#args[@]} -eq 0 ] && [ "$workspace" = "$dbgen_root" ]; then
  args=(--locked -p dbgen-example -p dbgen-cli)
fi

log "cargo build --release --target $TARGET ${args[*]}"
started=$SECONDS
messages=$(mktemp)
trap 'rm -f "$messages"' EXIT
CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --release --target "$TARGET" --message-format=json-render-diagnostics "${args[@]}" >"$messages"
log "built in $((SECONDS - started)) s"

mapfile -t binaries < <(grep -o '"executable":"[^"]*"' "$messages" | sed 's/"executable":"\(.*\)"/\1/' | sort -u)
if [ ${#binaries[@]} -eq 0 ]; then
  echo "error: the build produced no binary: run this in your application's folder, or pass -p <package>" >&2
  exit 1
fi
status=0
for path in "${binaries[@]}"; do
  # The release profile may not strip; a shipped binary needs no symbols.
  strip "$path" 2>/dev/null || true
  linkage=$(ldd "$path" 2>&1 || true)
  if ! grep -Eq 'not a dynamic executable|statically linked' <<<"$linkage"; then
    echo "error: $path is dynamically linked:" >&2
    echo "$linkage" >&2
    status=1
  fi
  size=$(stat -c %s "$path")
  printf '%s\n  %s\n  ldd: %s\n  stripped size: %s bytes (%s MiB)\n' \
    "$(basename "$path")" "$path" "$(head -n 1 <<<"$linkage" | sed 's/^[[:space:]]*//')" \
    "$size" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')"
done
exit "$status"
