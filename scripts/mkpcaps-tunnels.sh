#!/usr/bin/env bash
# Captures of a Stratum miner reaching its pool through real proxies, on loopback, for
# pcaps/tunnel-*.pcap (see pcaps/README.md): microsocks (SOCKS5, and with username/password),
# dante (SOCKS4, SOCKS5), tinyproxy (HTTP CONNECT), python `websockets` (a WebSocket client and
# a relaying server), haproxy (PROXY protocol v1 and v2 to the pool) and openssl's s_client
# through tinyproxy (TLS inside CONNECT); also openssl's ClientHello in two records
# (tls-hello-split-openssl.pcap: see pcaps/README.md for its command). The miner and pool are
# scripts/tunnel-lab.py (XMRig's cryptonote dialect). Needs root (tcpdump) and, installed by
# hand (it is run by a developer, never by CI: the captures are kept in testkit/real/):
#   apt-get install microsocks dante-server tinyproxy haproxy tcpdump
#   pip install websockets==14.1
# Then copy the files into testkit/real/, update their ports in testkit's scenarios (`Kept`)
# and run `cargo run -p testkit --bin mkpcaps -- pcaps`.
#   scripts/mkpcaps-tunnels.sh [OUTDIR]   (default pcaps/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-pcaps}
lab="python3 scripts/tunnel-lab.py"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

start() { "$@" >"$tmp/log.$#.$RANDOM" 2>&1 & pids+=($!); }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# capture NAME PORT CMD...: tcpdump on loopback, port PORT, while CMD runs.
capture() {
    local name=$1 port=$2
    shift 2
    tcpdump -i lo -U -s 0 -w "$out/$name" "tcp port $port" >"$tmp/tcpdump.$name" 2>&1 &
    local td=$!
    # Start only once tcpdump listens (a loaded machine takes its time), and stop it only
    # after the last packets are written.
    for _ in $(seq 200); do grep -q "listening on" "$tmp/tcpdump.$name" && break; sleep 0.1; done
    "$@"
    sleep 1
    kill "$td"
    wait "$td" 2>/dev/null || true
    echo "$out/$name: $(tail -1 "$tmp/tcpdump.$name")"
}

start $lab pool 127.0.0.1 3333
start $lab pool 127.0.0.1 3334 --proxy-protocol
wait_port 3333
wait_port 3334

start microsocks -i 127.0.0.1 -p 1080
start microsocks -i 127.0.0.1 -p 1090 -u miner -P s3cret
cat >"$tmp/danted.conf" <<CONF
logoutput: stderr
internal: 127.0.0.1 port = 1081
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
CONF
start danted -f "$tmp/danted.conf" -p "$tmp/danted.pid"
cat >"$tmp/tinyproxy.conf" <<CONF
Port 8888
Listen 127.0.0.1
Timeout 60
Allow 127.0.0.1
ConnectPort 3333
ConnectPort 4433
LogLevel Error
CONF
start tinyproxy -d -c "$tmp/tinyproxy.conf"
cat >"$tmp/haproxy.cfg" <<CONF
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend v1
    bind 127.0.0.1:3401
    default_backend pool_v1
frontend v2
    bind 127.0.0.1:3402
    default_backend pool_v2
backend pool_v1
    server pool 127.0.0.1:3334 send-proxy
backend pool_v2
    server pool 127.0.0.1:3334 send-proxy-v2
CONF
start haproxy -db -f "$tmp/haproxy.cfg"
start $lab ws-relay 127.0.0.1 8765 127.0.0.1 3333
for p in 1080 1090 1081 8888 3401 3402 8765; do wait_port "$p"; done

capture tunnel-socks5-microsocks.pcap 1080 $lab miner socks5 127.0.0.1 1080 127.0.0.1 3333
capture tunnel-socks5-auth-microsocks.pcap 1090 $lab miner socks5 127.0.0.1 1090 localhost 3333 --user miner --password s3cret
capture tunnel-socks5-dante.pcap 1081 $lab miner socks5 127.0.0.1 1081 127.0.0.1 3333
capture tunnel-socks4-dante.pcap 1081 $lab miner socks4 127.0.0.1 1081 127.0.0.1 3333
capture tunnel-http-connect-tinyproxy.pcap 8888 $lab miner connect 127.0.0.1 8888 localhost 3333
capture tunnel-websocket-python.pcap 8765 $lab miner websocket 127.0.0.1 8765 - 0
capture tunnel-websocket-webminer.pcap 8765 $lab miner webminer 127.0.0.1 8765 - 0
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=pool 2>/dev/null
tls_through_connect() {
    openssl s_server -accept 127.0.0.1:4433 -cert "$tmp/cert.pem" -key "$tmp/key.pem" -naccept 1 -quiet >/dev/null &
    sleep 1
    echo Q | timeout 5 openssl s_client -proxy 127.0.0.1:8888 -connect localhost:4433 -servername pool.supportxmr.com -quiet >/dev/null || true
}
capture tunnel-http-connect-tls-openssl.pcap 8888 tls_through_connect
capture tunnel-proxy-v1-haproxy.pcap 3334 $lab miner direct 127.0.0.1 3401 - 0
capture tunnel-proxy-v2-haproxy.pcap 3334 $lab miner direct 127.0.0.1 3402 - 0
