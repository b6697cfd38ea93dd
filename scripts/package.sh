#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (installed here when missing) into target/debian/:
# the binary, its man page and shell completions (which the binary prints itself), the systemd
# unit with ExecStart at /usr/bin/minewatch, /etc/minewatch/minewatch.toml and
# /etc/logrotate.d/minewatch (see [package.metadata.deb] in Cargo.toml). Prints the .deb's
# path as its last line.
#
#   scripts/package.sh               release build (minutes on 2 cores), packaged
#   scripts/package.sh --dev         the debug build instead (what tests/it/package.rs checks)
#   scripts/package.sh --no-build    package the binary already built for that profile
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

profile=release
build=1
for arg in "$@"; do
    case $arg in
        --dev) profile=dev ;;
        --no-build) build=0 ;;
        *)
            say "usage: scripts/package.sh [--dev] [--no-build]"
            exit 2
            ;;
    esac
done

ensure_cargo
ensure_cargo_deb
if [ "$build" -eq 1 ]; then
    ensure_libpcap
    # shellcheck disable=SC2046 # empty or --locked
    cargo build $(locked_flag) --profile "$profile" --bin minewatch </dev/null >&2
fi
outdir=release
[ "$profile" = dev ] && outdir=debug
bin="${CARGO_TARGET_DIR:-target}/$outdir/minewatch"
if [ ! -x "$bin" ]; then
    say "error: $bin is not built (run without --no-build)"
    exit 1
fi

# What Cargo.toml's assets and systemd-units name under target/deb-assets/ (whatever
# CARGO_TARGET_DIR is: cargo-deb reads these paths from the package root).
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/completions"
"$bin" --generate-man | gzip -9n >"$assets/minewatch.1.gz"
"$bin" --generate-completions bash >"$assets/completions/minewatch"
"$bin" --generate-completions zsh >"$assets/completions/_minewatch"
"$bin" --generate-completions fish >"$assets/completions/minewatch.fish"
# The unit in deploy/ is for a hand install (/usr/local/bin); a package installs in /usr/bin.
{
    echo "# Installed by the minewatch package: the binary is /usr/bin/minewatch."
    sed 's|^ExecStart=/usr/local/bin/minewatch |ExecStart=/usr/bin/minewatch |' deploy/minewatch.service
} >"$assets/minewatch.service"
if ! grep -q '^ExecStart=/usr/bin/minewatch ' "$assets/minewatch.service"; then
    say "error: deploy/minewatch.service has no ExecStart=/usr/local/bin/minewatch line to point at /usr/bin"
    exit 1
fi

# The release profile keeps debug info (`debug = 1`, for profiling); the package's binary is
# stripped (25 MB -> a few). The test's debug binary is packaged as it is (stripping takes time).
strip=--strip
[ "$profile" = dev ] && strip=--no-strip
# cargo-deb prints the package's path on standard output.
cargo deb --no-build --profile "$profile" "$strip" --output target/debian/ </dev/null
