#!/usr/bin/env python3
"""A Redis publisher on one long-lived TLS connection (RESP written by hand: redis-cli reading
commands from a pipe first downloads COMMAND DOCS, 170 KB, which would make the flow bulk),
for a negative capture of the behaviour watch: a ~100-byte tick published every 2-6 s.

usage: real-redis-pub.py PORT CAFILE SECONDS
"""
import json, random, socket, ssl, sys, time

port, cafile, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
rng = random.Random(4)
end = time.time() + secs
i = 0
while time.time() < end:
    i += 1
    msg = json.dumps({"seq": i, "sym": "ACME", "px": 10000 + rng.randint(0, 500), "qty": rng.randint(0, 90), "venue": "X"})
    parts = [b"PUBLISH", b"ticks", msg.encode()]
    s.sendall(b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    s.recv(64)  # ":N\r\n", the number of subscribers reached
    time.sleep(rng.uniform(2, 6))
s.close()
