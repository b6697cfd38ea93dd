#!/bin/bash
# Captures of real software over real TLS, each in a network namespace of its own (loopback
# only: nothing leaves the machine), for the behaviour watch's tests. Run as root from this
# directory: bash make-real.sh [SECONDS [WHICH...]] (WHICH: stratum mqtt websocket longpoll; all by
# default). Needs tcpdump, openssl, python3 (websockets 12.0 for the WebSocket capture),
# mosquitto and mosquitto-clients. Writes real-*.pcap here; see README.md.
set -euo pipefail
secs=${1:-300}
shift || true
which=${*:-stratum mqtt websocket longpoll}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"   # the broker drops to its own user and must read the certificate
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=pool -days 2 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
chmod 644 "$tmp/key.pem" "$tmp/cert.pem"

run_ns() { # NAME: a namespace with loopback up
  ip netns del "$1" 2>/dev/null || true
  ip netns add "$1"
  ip netns exec "$1" ip link set lo up
}

wants() { [[ " $which " == *" $1 "* ]]; }

if wants stratum; then
# 1. Stratum (XMRig dialect) over TLS to a bare address: jobs on a 20 s Poisson clock, shares
#    every 6 s on average, keepalived after 30 s of silence.
run_ns mwb-stratum
ip netns exec mwb-stratum tcpdump -i lo -w "$here/real-tls-stratum.pcap" -U 'tcp port 14433' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-stratum python3 "$here/real-tls-stratum.py" pool 14433 "$tmp/cert.pem" "$tmp/key.pem" 20 7 &
pool=$!
sleep 1
ip netns exec mwb-stratum python3 "$here/real-tls-stratum.py" miner 127.0.0.1 14433 6 30 "$secs" 11
sleep 1
kill "$pool" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-stratum
fi

if wants mqtt; then
# 2. MQTT over TLS (mosquitto): a subscriber kept open (keepalive 60 s) while a publisher
#    pushes a reading every 7 s on its own long-lived connection.
run_ns mwb-mqtt
cat > "$tmp/mosq.conf" <<CONF
listener 18883 127.0.0.1
cafile $tmp/cert.pem
certfile $tmp/cert.pem
keyfile $tmp/key.pem
allow_anonymous true
CONF
ip netns exec mwb-mqtt tcpdump -i lo -w "$here/real-mqtt-tls.pcap" -U 'tcp port 18883' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-mqtt mosquitto -c "$tmp/mosq.conf" &
broker=$!
sleep 1
ip netns exec mwb-mqtt timeout "$secs" mosquitto_sub -h 127.0.0.1 -p 18883 --cafile "$tmp/cert.pem" --insecure -k 60 -t 'sensors/#' >/dev/null &
sub=$!
( i=0; end=$((SECONDS + secs - 2)); while [ $SECONDS -lt $end ]; do i=$((i+1)); echo "{\"t\":$i,\"temp\":$((200 + i % 17)),\"unit\":\"dC\",\"site\":\"lab-3\"}"; sleep 7; done ) |
  ip netns exec mwb-mqtt mosquitto_pub -h 127.0.0.1 -p 18883 --cafile "$tmp/cert.pem" --insecure -k 60 -t sensors/lab -l
wait "$sub" 2>/dev/null || true
sleep 1
kill "$broker" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-mqtt
fi

if wants websocket; then
# 3. A WebSocket application over TLS (python websockets 12.0): the server pushes a quote of
#    ~150 bytes every 2 s and a news item at random times; the client pings every 20 s (the
#    library's keepalive) and sends a small subscription change now and then.
run_ns mwb-ws
ip netns exec mwb-ws tcpdump -i lo -w "$here/real-websocket-tls.pcap" -U 'tcp port 18443' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-ws python3 "$here/real-websocket.py" server 18443 "$tmp/cert.pem" "$tmp/key.pem" &
srv=$!
sleep 2
ip netns exec mwb-ws python3 "$here/real-websocket.py" client 18443 "$secs"
sleep 1
kill "$srv" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-ws
fi

if wants longpoll; then
# 4. An HTTPS long-poll (Python's http.server and http.client, keep-alive, no SNI, no ALPN):
#    each GET held until there is news (1-20 s), asked again at once; a small POST now and then.
run_ns mwb-lp
ip netns exec mwb-lp tcpdump -i lo -w "$here/real-longpoll-tls.pcap" -U 'tcp port 18444' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-lp python3 "$here/real-longpoll.py" server 18444 "$tmp/cert.pem" "$tmp/key.pem" &
srv=$!
sleep 2
ip netns exec mwb-lp python3 "$here/real-longpoll.py" client 18444 "$secs"
sleep 1
kill "$srv" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-lp
fi
