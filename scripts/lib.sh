# shellcheck shell=bash
# Shared by scripts/demo.sh, scripts/test.sh and .ci/run (sourced, not run): checks for and, when
# missing, installs the build dependencies, and finds cargo.

export DEBIAN_FRONTEND=noninteractive

say() { printf '%s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

# Prints a section header.
section() { printf '\n==> %s\n' "$*"; }

# True when libpcap's development files are installed: pkg-config knows the library and its
# header is where pkg-config says (or in the usual include directories).
libpcap_ok() {
    have pkg-config && pkg-config --exists libpcap || return 1
    local dir
    for dir in "$(pkg-config --variable=includedir libpcap 2>/dev/null || true)" /usr/include /usr/local/include; do
        if [ -n "$dir" ] && [ -e "$dir/pcap.h" ]; then
            return 0
        fi
    done
    return 1
}

# Runs a command as root: directly when root already, else through sudo (without prompting when
# there is no terminal to prompt on).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif have sudo; then
        if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
    else
        say "error: need root to run: $*  (not root, and sudo is not installed)"
        return 1
    fi
}

# Installs libpcap-dev and pkg-config with apt-get when libpcap's development files are missing.
ensure_libpcap() {
    if libpcap_ok; then
        return 0
    fi
    say "libpcap development files not found; installing libpcap-dev and pkg-config"
    if ! have apt-get; then
        say "error: apt-get is not available. Install libpcap's development package and pkg-config"
        say "       with your system's package manager (e.g. 'dnf install libpcap-devel pkgconf',"
        say "       'apk add libpcap-dev pkgconf', 'brew install libpcap pkg-config'), then re-run."
        return 1
    fi
    as_root apt-get update </dev/null
    as_root apt-get install -y --no-install-recommends libpcap-dev pkg-config </dev/null
    if ! libpcap_ok; then
        say "error: libpcap-dev was installed but pkg-config still cannot find libpcap"
        return 1
    fi
}

# Installs what tests/it/live.rs needs to run rather than skip: iproute2 (network namespaces, veth),
# python3 (the test's tiny pool and miner), tcpreplay (the counters test), setpriv from util-linux
# and setcap from libcap2-bin (the privilege-drop tests start the sensor with ambient and with file
# capabilities). Only when root, since
# the live tests need root anyway; a failure here only makes those tests skip, so it never stops
# the run.
ensure_live_test_tools() {
    if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
        return 0
    fi
    local missing=()
    have ip || missing+=(iproute2)
    have python3 || missing+=(python3)
    have tcpreplay || missing+=(tcpreplay)
    have setpriv || missing+=(util-linux)
    have setcap || [ -x /usr/sbin/setcap ] || [ -x /sbin/setcap ] || missing+=(libcap2-bin)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    say "installing for the live-capture tests: ${missing[*]}"
    { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } </dev/null >&2 ||
        say "warning: could not install ${missing[*]}; the live-capture tests will say SKIPPED"
}

# `ensure_test_tool COMMAND PACKAGE TEST`: installs Debian's PACKAGE with apt-get when COMMAND
# is on neither PATH nor /usr/sbin, /usr/bin, for the test TEST that runs it. Not fatal: without
# it, that test says SKIPPED.
ensure_test_tool() {
    local cmd=$1 pkg=$2 test=$3
    if have "$cmd" || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/bin/$cmd" ]; then
        return 0
    fi
    say "$cmd not found; installing $pkg (for $test)"
    if ! have apt-get; then
        say "warning: apt-get is not available; $test will say SKIPPED"
        return 0
    fi
    as_root apt-get update </dev/null || true
    as_root apt-get install -y --no-install-recommends "$pkg" </dev/null ||
        say "warning: could not install $pkg; $test will say SKIPPED"
}

# openssl (the command): tests/it/probe.rs makes the TLS pool's certificate with it (python3,
# which the probe tests also need, comes with the live-capture tools).
ensure_openssl() { ensure_test_tool openssl openssl tests/it/probe.rs; }
# microsocks (a real SOCKS5 proxy): tests/it/live.rs runs a miner through it, with its
# username/password, while minewatch captures.
ensure_microsocks() { ensure_test_tool microsocks microsocks tests/it/live.rs; }

# promtool (Debian's prometheus package): tests/it/metrics.rs checks the endpoint's page with it.
ensure_promtool() { ensure_test_tool promtool prometheus tests/it/metrics.rs; }

# systemd-analyze (Debian 12 ships it in the systemd package itself; installing it in a
# container starts no systemd, and the test needs none running): tests/it/deploy.rs verifies the
# unit in deploy/ with it.
ensure_systemd_analyze() { ensure_test_tool systemd-analyze systemd tests/it/deploy.rs; }

# The Debian package and tests/it/package.rs, which builds it and checks it: cargo-deb (pinned,
# built from crates.io: a few minutes once), dpkg-shlibdeps (dpkg-dev, for the package's
# `Depends: $auto`), logrotate (checks /etc/logrotate.d/minewatch) and groff (renders the man
# page). Without cargo-deb the package test says SKIPPED.
CARGO_DEB_VERSION=3.8.0
ensure_cargo_deb() {
    if cargo deb --version >/dev/null 2>&1; then
        return 0
    fi
    say "cargo-deb not found; installing cargo-deb $CARGO_DEB_VERSION (for scripts/package.sh)"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked </dev/null >&2
}
ensure_package_tools() {
    ensure_cargo_deb || say "warning: could not install cargo-deb; tests/it/package.rs will say SKIPPED"
    ensure_test_tool dpkg-shlibdeps dpkg-dev tests/it/package.rs
    ensure_test_tool logrotate logrotate tests/it/package.rs
    ensure_test_tool groff groff-base tests/it/package.rs
}

# Makes sure cargo is on PATH (picking up a rustup install in the default place), or explains how
# to get it.
ensure_cargo() {
    if ! have cargo && [ -f "${CARGO_HOME:-$HOME/.cargo}/env" ]; then
        # shellcheck disable=SC1091
        . "${CARGO_HOME:-$HOME/.cargo}/env"
    fi
    if ! have cargo; then
        say "error: cargo (Rust) is not installed. Install Rust with rustup:"
        say "    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
        say "then open a new shell (or run: . \"\$HOME/.cargo/env\") and re-run this script."
        return 1
    fi
}

# "--locked" when the repository has a Cargo.lock, so builds use exactly the locked versions.
locked_flag() {
    if [ -f Cargo.lock ]; then printf '%s' --locked; fi
}

# rsyslogd (Debian's rsyslog): tests/it/syslog.rs runs it as a receiver on loopback.
ensure_rsyslog() { ensure_test_tool rsyslogd rsyslog tests/it/syslog.rs; }

# rsyslog's GnuTLS network stream driver (Debian's rsyslog-gnutls): tests/it/syslog_tls.rs runs
# rsyslog as a syslog-over-TLS receiver. rsyslogd is there already, so the check is the driver.
ensure_rsyslog_tls() {
    local d
    for d in /usr/lib/*/rsyslog /usr/lib/rsyslog; do
        if [ -f "$d/lmnsd_gtls.so" ]; then return 0; fi
    done
    say "rsyslog's TLS driver not found; installing rsyslog-gnutls (for tests/it/syslog_tls.rs)"
    if ! have apt-get; then
        say "warning: apt-get is not available; tests/it/syslog_tls.rs will say SKIPPED"
        return 0
    fi
    as_root apt-get update </dev/null || true
    as_root apt-get install -y --no-install-recommends rsyslog-gnutls </dev/null ||
        say "warning: could not install rsyslog-gnutls; tests/it/syslog_tls.rs will say SKIPPED"
}

# tcpdump (Debian's tcpdump): tests/it/packets.rs holds minewatch's packet counts per direction
# to tcpdump's count of the same capture.
ensure_tcpdump() { ensure_test_tool tcpdump tcpdump tests/it/packets.rs; }

# redis-server (Debian's redis-server): tests/it/redis.rs starts one on loopback as the Redis
# output's receiver.
ensure_redis() { ensure_test_tool redis-server redis-server tests/it/redis.rs; }

# chromium (Debian's chromium): tests/it/report.rs loads the report page in it, headless, and
# searches the DOM it renders.
ensure_chromium() { ensure_test_tool chromium chromium tests/it/report.rs; }

# The Python libraries the tests use, from PyPI at pinned versions: stix2 (tests/it/report.rs
# parses the STIX 2.1 bundle with it, tests/it/intel.rs has it write one as a real producer would),
# stix2-patterns (validates each indicator pattern) and pymisp (loads the MISP event). Installed into a virtual environment in target/pytools, since Debian's
# Python refuses pip installs into the system (PEP 668); python3-venv makes it. Not fatal: without
# them, those checks say SKIPPED.
REPORT_PY_PACKAGES=(stix2==3.0.2 stix2-patterns==2.1.2 pymisp==2.5.34.4)
ensure_report_python() {
    local venv=target/pytools
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import stix2, stix2patterns, pymisp' 2>/dev/null; then
        return 0
    fi
    ensure_test_tool python3 python3 tests/it/report.rs
    if have python3 && ! python3 -c 'import ensurepip, venv' 2>/dev/null && have apt-get; then
        say "installing python3-venv (for tests/it/report.rs)"
        as_root apt-get install -y --no-install-recommends python3-venv </dev/null ||
            { as_root apt-get update </dev/null && as_root apt-get install -y --no-install-recommends python3-venv </dev/null; } ||
            say "warning: could not install python3-venv"
    fi
    say "installing ${REPORT_PY_PACKAGES[*]} into $venv (for tests/it/report.rs)"
    { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check "${REPORT_PY_PACKAGES[@]}"; } </dev/null >&2 ||
        say "warning: could not install the report test's Python libraries; those checks will say SKIPPED"
}

# Two network namespaces joined by a veth pair, for the live benchmarks: `veth_lab NS_A NS_B
# VETH_A VETH_B DIR` creates them (IPv6 off, so that no router solicitation mixes into the
# counts; jumbo MTU, so that no captured frame is too long to replay) and removes them, and the
# scratch directory DIR, when the script exits.
veth_lab() {
    local a=$1 b=$2 va=$3 vb=$4 dir=$5 x ns dev
    # shellcheck disable=SC2064 # the names are fixed now
    trap "ip netns del '$a' 2>/dev/null || true; ip netns del '$b' 2>/dev/null || true; rm -rf '$dir'" EXIT
    ip netns add "$a"
    ip netns add "$b"
    ip link add "$va" type veth peer name "$vb"
    ip link set "$va" netns "$a"
    ip link set "$vb" netns "$b"
    for x in "$a:$va" "$b:$vb"; do
        ns=${x%%:*}
        dev=${x#*:}
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
        ip -n "$ns" link set "$dev" mtu 9000 up
    done
}
