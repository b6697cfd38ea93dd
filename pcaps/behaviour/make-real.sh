#!/bin/bash
# Captures of real software over real TLS, each in a network namespace of its own (loopback
# only: nothing leaves the machine), for the behaviour watch's tests. Run as root from this
# directory: bash make-real.sh [SECONDS [WHICH...]] (WHICH: stratum mqtt websocket longpoll imap
# grpc ssh redis mqttdev mqttev chromium; all by default). Needs tcpdump, openssl, python3 (websockets 12.0 for the
# WebSocket capture), mosquitto and mosquitto-clients, dovecot-imapd, openssh-server and
# openssh-client, redis-server (7, with TLS), and for grpc/mqttdev a Python with grpcio, grpclib,
# protobuf and paho-mqtt, named by PY (default python3), chromium (Debian's): see README.md.
# Writes real-*.pcap here.
set -euo pipefail
secs=${1:-300}
shift || true
which=${*:-stratum mqtt websocket longpoll imap grpc ssh redis mqttdev mqttev chromium}
py=${PY:-python3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"   # the broker drops to its own user and must read the certificate
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=pool -days 2 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
chmod 644 "$tmp/key.pem" "$tmp/cert.pem"
# gRPC core checks the server's name even for an address: a certificate naming 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=pool -addext subjectAltName=IP:127.0.0.1 -days 2 -keyout "$tmp/ipkey.pem" -out "$tmp/ipcert.pem" 2>/dev/null

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

if wants imap; then
# 5. IMAP IDLE over TLS (dovecot, port 993): a client idles, and on each EXISTS ends the IDLE,
#    fetches the new headers as Thunderbird does and idles again, while a second connection
#    APPENDs a message every 10-20 s. Dovecot's "* OK Still here" every 30 s (shortened).
run_ns mwb-imap
mkdir -p "$tmp/dovecot" "$tmp/mail"
chown nobody:nogroup "$tmp/mail"
echo 'alice:{PLAIN}secret' > "$tmp/imap-users"
cat > "$tmp/dovecot.conf" <<CONF
base_dir = $tmp/dovecot
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$tmp/cert.pem
ssl_key = <$tmp/key.pem
log_path = $tmp/dovecot.log
passdb {
  driver = passwd-file
  args = scheme=PLAIN $tmp/imap-users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$tmp/mail/%u
}
mail_location = maildir:~/Maildir
imap_idle_notify_interval = 30 secs
service imap-login {
  inet_listener imap {
    port = 0
  }
}
CONF
ip netns exec mwb-imap tcpdump -i lo -w "$here/real-imap-idle-tls.pcap" -U 'tcp port 993' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-imap dovecot -F -c "$tmp/dovecot.conf" &
srv=$!
sleep 2
ip netns exec mwb-imap timeout "$secs" python3 "$here/real-imap.py" idle 993 "$tmp/cert.pem" "$secs" &
cl=$!
sleep 1
ip netns exec mwb-imap python3 "$here/real-imap.py" deliver 993 "$tmp/cert.pem" $((secs - 5))
wait "$cl" 2>/dev/null || true
sleep 1
kill "$srv" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-imap
fi

if wants grpc; then
# 6. A gRPC server-streaming call over TLS, a status message every 2-5 s, HTTP/2 pings every
#    10 s: with grpcio (gRPC core; its client always offers ALPN h2) and with grpclib (its
#    client given a context with no ALPN at all), each on its own connection.
run_ns mwb-grpc
ip netns exec mwb-grpc tcpdump -i lo -w "$here/real-grpc-tls.pcap" -U 'tcp port 15051 or tcp port 15052' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-grpc "$py" "$here/real-grpc.py" server grpcio 15051 "$tmp/ipcert.pem" "$tmp/ipkey.pem" &
s1=$!
ip netns exec mwb-grpc "$py" "$here/real-grpc.py" server grpclib 15052 "$tmp/ipcert.pem" "$tmp/ipkey.pem" &
s2=$!
sleep 3
ip netns exec mwb-grpc "$py" "$here/real-grpc.py" client grpcio 15051 "$tmp/ipcert.pem" "$secs" &
c1=$!
ip netns exec mwb-grpc "$py" "$here/real-grpc.py" client grpclib 15052 "$tmp/ipcert.pem" "$secs"
wait "$c1" || true
sleep 1
kill "$s1" "$s2" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-grpc
fi

if wants ssh; then
# 7. SSH (OpenSSH): ServerAliveInterval 5 and a remote command printing the date every 3 s.
#    Not TLS: bypassed at its first bytes. Run for a minute at most, it needs no more.
run_ns mwb-ssh
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
cat > "$tmp/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port 22
HostKey $tmp/hostkey
PermitRootLogin prohibit-password
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
UsePAM no
PidFile $tmp/sshd.pid
CONF
ip netns exec mwb-ssh tcpdump -i lo -w "$here/real-ssh.pcap" -U 'tcp port 22' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-ssh /usr/sbin/sshd -D -f "$tmp/sshd_config" &
srv=$!
sleep 1
ssecs=$((secs < 60 ? secs : 60))
ip netns exec mwb-ssh timeout "$ssecs" ssh -n -i "$tmp/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o ServerAliveInterval=5 -p 22 root@127.0.0.1 'while sleep 3; do date; done' >/dev/null || true
sleep 1
kill "$srv" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-ssh
fi

if wants redis; then
# 8. Redis 7 pub/sub over TLS (no SNI): a subscriber kept open while a publisher on its own
#    long-lived connection (real-redis-pub.py) publishes a ~100-byte message every 2-6 s.
run_ns mwb-redis
ip netns exec mwb-redis tcpdump -i lo -w "$here/real-redis-pubsub-tls.pcap" -U 'tcp port 16380' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-redis redis-server --port 0 --tls-port 16380 --bind 127.0.0.1 --tls-cert-file "$tmp/cert.pem" \
  --tls-key-file "$tmp/key.pem" --tls-ca-cert-file "$tmp/cert.pem" --tls-auth-clients no --save '' --appendonly no \
  --dir "$tmp" >/dev/null &
srv=$!
sleep 1
ip netns exec mwb-redis timeout "$secs" redis-cli --tls --cacert "$tmp/cert.pem" -h 127.0.0.1 -p 16380 SUBSCRIBE ticks >/dev/null &
sub=$!
sleep 1
ip netns exec mwb-redis python3 "$here/real-redis-pub.py" 16380 "$tmp/cert.pem" $((secs - 3))
wait "$sub" 2>/dev/null || true
sleep 1
kill "$srv" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-redis
fi

if wants mqttdev; then
# 9. An MQTT device over TLS on one connection, QoS 1 both ways (paho-mqtt): a reading every
#    5 s (PUBACKed by the broker) while commands arrive unasked every 5-20 s from a controller
#    (mosquitto_pub -q 1 on its own connection), each PUBACKed by the device.
run_ns mwb-mqd
cat > "$tmp/mosq-dev.conf" <<CONF
listener 18884 127.0.0.1
cafile $tmp/cert.pem
certfile $tmp/cert.pem
keyfile $tmp/key.pem
allow_anonymous true
CONF
ip netns exec mwb-mqd tcpdump -i lo -w "$here/real-mqtt-device-tls.pcap" -U 'tcp port 18884' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-mqd mosquitto -c "$tmp/mosq-dev.conf" &
broker=$!
sleep 1
ip netns exec mwb-mqd "$py" "$here/real-mqtt-device.py" 18884 "$tmp/cert.pem" "$secs" &
dev=$!
sleep 2
( i=0; end=$((SECONDS + secs - 5)); while [ $SECONDS -lt $end ]; do i=$((i+1))
    echo "{\"cmd\":\"set\",\"id\":$i,\"target\":\"fan\",\"speed\":$((RANDOM % 100)),\"by\":\"controller-2\"}"
    sleep $((5 + RANDOM % 16)); done ) |
  ip netns exec mwb-mqd mosquitto_pub -h 127.0.0.1 -p 18884 --cafile "$tmp/cert.pem" --insecure -k 60 -q 1 -t cmd/dev-17 -l
wait "$dev" 2>/dev/null || true
sleep 1
kill "$broker" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-mqd
fi

if wants mqttev; then
# 10. The same device publishing on events (at random, 5 s apart on average) rather than on a
#     timer, paho's default keepalive (60 s), commands every 30-60 s.
run_ns mwb-mqe
cat > "$tmp/mosq-ev.conf" <<CONF
listener 18885 127.0.0.1
cafile $tmp/cert.pem
certfile $tmp/cert.pem
keyfile $tmp/key.pem
allow_anonymous true
CONF
ip netns exec mwb-mqe tcpdump -i lo -w "$here/real-mqtt-events-tls.pcap" -U 'tcp port 18885' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-mqe mosquitto -c "$tmp/mosq-ev.conf" &
broker=$!
sleep 1
ip netns exec mwb-mqe "$py" "$here/real-mqtt-device.py" 18885 "$tmp/cert.pem" "$secs" events &
dev=$!
sleep 2
( i=0; end=$((SECONDS + secs - 5)); while [ $SECONDS -lt $end ]; do i=$((i+1))
    echo "{\"cmd\":\"set\",\"id\":$i,\"target\":\"fan\",\"speed\":$((RANDOM % 100)),\"by\":\"controller-2\"}"
    sleep $((30 + RANDOM % 31)); done ) |
  ip netns exec mwb-mqe mosquitto_pub -h 127.0.0.1 -p 18885 --cafile "$tmp/cert.pem" --insecure -k 60 -q 1 -t cmd/dev-17 -l
wait "$dev" 2>/dev/null || true
sleep 1
kill "$broker" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-mqe
fi

if wants chromium; then
# 11. A real browser: headless Chromium (its GREASE Encrypted Client Hello, ALPN h2 and
#     http/1.1, SNI localhost) loads a page over HTTPS whose script opens a server-sent event
#     stream, pushed an event every 2-8 s; 40 s whatever SECONDS says (the point is the hello).
run_ns mwb-chr
ip netns exec mwb-chr tcpdump -i lo -w "$here/real-chromium-ech-sse.pcap" -U 'tcp port 18446' 2>/dev/null &
td=$!
sleep 1
ip netns exec mwb-chr python3 "$here/real-browser-sse.py" 18446 "$tmp/cert.pem" "$tmp/key.pem" &
srv=$!
sleep 1
ip netns exec mwb-chr timeout 40 chromium --headless --no-sandbox --disable-gpu --ignore-certificate-errors \
  --user-data-dir="$tmp/chromium" https://localhost:18446/ >/dev/null 2>&1 || true
sleep 1
kill "$srv" "$td"; wait "$td" 2>/dev/null || true
ip netns del mwb-chr
fi
