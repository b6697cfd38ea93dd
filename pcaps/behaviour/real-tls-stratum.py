#!/usr/bin/env python3
"""A CryptoNote (XMRig-dialect) Stratum pool and miner over real TLS (Python's ssl, OpenSSL),
for a capture of an encrypted mining session with no server name. Run by make-real.sh inside
a network namespace; the pool pushes a new job at the times of a Poisson block clock (mean
BLOCK seconds), the miner submits shares at a Poisson rate (mean SHARE seconds) and sends
XMRig's keepalived after KEEPALIVE seconds of silence. Deterministic given its seed.

usage: real-tls-stratum.py pool PORT CERT KEY BLOCK SEED
       real-tls-stratum.py miner HOST PORT SHARE KEEPALIVE DURATION SEED
"""
import json, random, socket, ssl, sys, threading, time

def pool(port, cert, key, block, seed):
    rng = random.Random(seed)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    while True:
        raw, _ = srv.accept()
        conn = ctx.wrap_socket(raw, server_side=True)
        threading.Thread(target=serve, args=(conn, rng, block), daemon=True).start()

def job(rng, n):
    return {"blob": "%0152x" % rng.getrandbits(608), "job_id": "%d" % n, "target": "b88d0600",
            "algo": "rx/0", "height": 3000000 + n, "seed_hash": "%064x" % rng.getrandbits(256)}

def serve(conn, rng, block):
    lock = threading.Lock()
    sid = "%08x-%04x" % (rng.getrandbits(32), rng.getrandbits(16))
    state = {"n": 1, "alive": True}
    def send(obj):
        with lock:
            conn.sendall((json.dumps(obj, separators=(",", ":")) + "\n").encode())
    def pusher():
        while state["alive"]:
            time.sleep(rng.expovariate(1.0 / block))
            state["n"] += 1
            try:
                send({"jsonrpc": "2.0", "method": "job", "params": job(rng, state["n"])})
            except OSError:
                return
    f = conn.makefile("rb")
    for line in f:
        msg = json.loads(line)
        m = msg.get("method")
        if m == "login":
            send({"id": msg["id"], "jsonrpc": "2.0", "error": None,
                  "result": {"id": sid, "job": job(rng, 1), "extensions": ["algo", "keepalive"], "status": "OK"}})
            threading.Thread(target=pusher, daemon=True).start()
        elif m == "submit":
            send({"id": msg["id"], "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}})
        elif m == "keepalived":
            send({"id": msg["id"], "jsonrpc": "2.0", "error": None, "result": {"status": "KEEPALIVED"}})
    state["alive"] = False

def miner(host, port, share, keepalive, duration, seed):
    rng = random.Random(seed)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = ctx.wrap_socket(socket.create_connection((host, port)))  # no server_hostname: no SNI
    f = conn.makefile("rb")
    lock = threading.Lock()
    ids = [1]
    def send(obj):
        with lock:
            conn.sendall((json.dumps(obj, separators=(",", ":")) + "\n").encode())
    send({"id": 1, "jsonrpc": "2.0", "method": "login", "params": {
        "login": "4AASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVKf",
        "pass": "x", "agent": "XMRig/6.26.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0", "rigid": "rig-tls01",
        "algo": ["rx/0"]}})
    first = json.loads(f.readline())
    sid = first["result"]["id"]
    job_id = [first["result"]["job"]["job_id"]]
    def reader():
        for line in f:
            m = json.loads(line)
            if m.get("method") == "job":
                job_id[0] = m["params"]["job_id"]
    threading.Thread(target=reader, daemon=True).start()
    end = time.time() + duration
    last = time.time()
    next_share = time.time() + rng.expovariate(1.0 / share)
    while time.time() < end:
        time.sleep(0.05)
        now = time.time()
        ids[0] += 1
        if now >= next_share:
            send({"id": ids[0], "jsonrpc": "2.0", "method": "submit", "params": {"id": sid, "job_id": job_id[0],
                  "nonce": "%08x" % rng.getrandbits(32), "result": "%064x" % rng.getrandbits(256), "algo": "rx/0"}})
            last = now
            next_share = now + rng.expovariate(1.0 / share)
        elif now - last >= keepalive:
            send({"id": ids[0], "jsonrpc": "2.0", "method": "keepalived", "params": {"id": sid}})
            last = now
        else:
            ids[0] -= 1
    conn.close()

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "pool":
        pool(int(a[2]), a[3], a[4], float(a[5]), int(a[6]))
    else:
        miner(a[2], int(a[3]), float(a[4]), float(a[5]), float(a[6]), int(a[7]))
