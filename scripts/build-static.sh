#!/usr/bin/env bash
# Builds dbgen-example and dbgen as fully static Linux binaries (musl libc, rustls for TLS,
# the bundled SQLite, no OpenSSL): copy one onto any x86_64 Linux server and run it there.
#
#   scripts/build-static.sh            install what is missing, build, check, print paths
#
# Needs Debian's musl-tools (musl-gcc, for the C parts: SQLite, ring) and the Rust target
# x86_64-unknown-linux-musl; both are installed when missing (apt-get as root, rustup).
set -euo pipefail
cd "$(dirname "$0")/.."

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

log "cargo build --release --target $TARGET -p dbgen-example -p dbgen-cli"
started=$SECONDS
CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --release --locked --target "$TARGET" -p dbgen-example -p dbgen-cli
log "built in $((SECONDS - started)) s"

target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
status=0
for bin in dbgen-example dbgen; do
  path="$target_dir/$TARGET/release/$bin"
  # The release profile strips (strip = true); strip again in case a profile override did not.
  strip "$path" 2>/dev/null || true
  linkage=$(ldd "$path" 2>&1 || true)
  if ! grep -Eq 'not a dynamic executable|statically linked' <<<"$linkage"; then
    echo "error: $path is dynamically linked:" >&2
    echo "$linkage" >&2
    status=1
  fi
  size=$(stat -c %s "$path")
  printf '%s\n  %s\n  ldd: %s\n  stripped size: %s bytes (%s MiB)\n' \
    "$bin" "$path" "$(head -n 1 <<<"$linkage" | sed 's/^[[:space:]]*//')" \
    "$size" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')"
done
exit "$status"
