#!/usr/bin/env python3
"""A tiny Stratum (XMRig cryptonote dialect) pool and miner, and a WebSocket relay, for the
tunnel captures (scripts/mkpcaps-tunnels.sh) and the live tunnel test: the miner reaches the
pool through a real proxy (microsocks, danted, tinyproxy, haproxy) or a real WebSocket pair
(python `websockets`). Only the proxy handshakes the proxies do not do themselves are written
here, as their specifications say (the SOCKS and CONNECT client side).

  tunnel-lab.py pool HOST PORT [--proxy-protocol]
  tunnel-lab.py miner VIA PROXY_HOST PROXY_PORT TARGET_HOST TARGET_PORT [--user U --password P] [--shares N]
      VIA: direct, socks5, socks4, socks4a, connect, websocket, webminer (the last two: PROXY_*
      is the relay; webminer speaks the browser miners' dialect, {"type":"auth"|"submit"})
  tunnel-lab.py ws-relay HOST PORT POOL_HOST POOL_PORT
"""
import asyncio
import ipaddress
import json
import socket
import struct
import sys
import time

LOGIN = "48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD"
AGENT = "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0"


def job(n):
    return {"blob": "0707" + "%02x" % n * 38, "job_id": "job%d" % n, "target": "b88d0600",
            "algo": "rx/0", "height": 3000000 + n, "seed_hash": "00" * 32}


def pool_reply(msg, n):
    """The pool's answer to one miner message."""
    if msg.get("method") == "login":
        return {"id": msg.get("id"), "jsonrpc": "2.0", "error": None,
                "result": {"id": "1", "job": job(n), "extensions": ["algo", "keepalive"], "status": "OK"}}
    if msg.get("method") == "submit":
        return {"id": msg.get("id"), "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}}
    return {"id": msg.get("id"), "jsonrpc": "2.0", "error": None, "result": {"status": "KEEPALIVED"}}


def read_proxy_header(f):
    """Strips a PROXY protocol v1 or v2 header from the stream's start (haproxy send-proxy*)."""
    first = f.peek(1)[:1]
    if first == b"P":
        f.readline()
    elif first == b"\r":
        hdr = f.read(16)
        f.read(struct.unpack("!H", hdr[14:16])[0])


def pool(host, port, proxy_protocol):
    srv = socket.create_server((host, int(port)), reuse_port=False)
    srv.settimeout(120)
    print("ready", flush=True)
    while True:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            return
        with conn:
            f = conn.makefile("rwb")
            if proxy_protocol:
                read_proxy_header(f)
            n = 0
            for line in f:
                try:
                    msg = json.loads(line)
                except ValueError:
                    break
                n += 1
                f.write(json.dumps(pool_reply(msg, n)).encode() + b"\n")
                f.flush()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("proxy closed")
        b += c
    return b


def socks5(s, host, port, user, password):
    methods = b"\x02" if user else b"\x00"
    s.sendall(b"\x05\x01" + methods)
    if recv_exact(s, 2) != b"\x05" + methods:
        raise RuntimeError("socks5: method refused")
    if user:
        s.sendall(b"\x01" + bytes([len(user)]) + user.encode() + bytes([len(password)]) + password.encode())
        if recv_exact(s, 2) != b"\x01\x00":
            raise RuntimeError("socks5: auth refused")
    try:
        addr = b"\x01" + ipaddress.IPv4Address(host).packed
    except ValueError:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    s.sendall(b"\x05\x01\x00" + addr + struct.pack("!H", port))
    rep = recv_exact(s, 4)
    if rep[1] != 0:
        raise RuntimeError("socks5: connect refused %d" % rep[1])
    recv_exact(s, {1: 4, 4: 16}.get(rep[3], 0) or recv_exact(s, 1)[0])
    recv_exact(s, 2)


def socks4(s, host, port, name):
    if name:
        s.sendall(b"\x04\x01" + struct.pack("!H", port) + b"\x00\x00\x00\x01miner\x00" + host.encode() + b"\x00")
    else:
        s.sendall(b"\x04\x01" + struct.pack("!H", port) + ipaddress.IPv4Address(host).packed + b"miner\x00")
    rep = recv_exact(s, 8)
    if rep[1] != 0x5A:
        raise RuntimeError("socks4: refused %d" % rep[1])


def connect(s, host, port):
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\n\r\n" % (host, port, host, port, AGENT)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            raise EOFError("proxy closed")
        head += c
    if b" 200 " not in head.split(b"\r\n")[0] + b" ":
        raise RuntimeError("connect refused: %r" % head)


def miner_messages(shares):
    yield {"id": 1, "jsonrpc": "2.0", "method": "login",
           "params": {"login": LOGIN, "pass": "x", "agent": AGENT, "rigid": "rig-tun01", "algo": ["rx/0"]}}
    for i in range(shares):
        yield {"id": 2 + i, "jsonrpc": "2.0", "method": "submit",
               "params": {"id": "1", "job_id": "job1", "nonce": "%08x" % (i + 1), "result": "ab" * 32}}


SITE_KEY = "QmVsb3ZlZFNpdGVLZXkwMDAwMDAwMDAwMDAwMDA"


def webminer_messages(shares):
    """What Coinhive's browser client (and CoinIMP's, and the self-hosted clones') sends."""
    yield {"type": "auth", "params": {"site_key": SITE_KEY, "type": "anonymous", "user": None, "goal": 0}}
    for i in range(shares):
        yield {"type": "submit", "params": {"version": 7, "job_id": "job1", "nonce": "%08x" % (i + 1), "result": "ab" * 32}}


def miner(via, phost, pport, thost, tport, user, password, shares, pause):
    if via in ("websocket", "webminer"):
        return asyncio.run(ws_miner(phost, int(pport), shares, pause, via == "webminer"))
    s = socket.create_connection((phost, int(pport)), timeout=30)
    tport = int(tport)
    if via == "socks5":
        socks5(s, thost, tport, user, password)
    elif via in ("socks4", "socks4a"):
        socks4(s, thost, tport, via == "socks4a")
    elif via == "connect":
        connect(s, thost, tport)
    f = s.makefile("rwb")
    for msg in miner_messages(shares):
        f.write(json.dumps(msg).encode() + b"\n")
        f.flush()
        reply = json.loads(f.readline())
        if reply.get("error"):
            raise RuntimeError("pool error %r" % reply)
        time.sleep(pause)
    s.close()
    print("done", flush=True)


async def ws_miner(host, port, shares, pause, webminer):
    import websockets
    path = "/proxy" if webminer else "/stratum"
    async with websockets.connect("ws://%s:%d%s" % (host, port, path), compression=None) as ws:
        for msg in (webminer_messages if webminer else miner_messages)(shares):
            await ws.send(json.dumps(msg))
            reply = json.loads(await ws.recv())
            if reply.get("error") or reply.get("type") == "error":
                raise RuntimeError("pool error %r" % reply)
            if reply.get("type") == "authed":
                await ws.recv()  # the job that follows
            await asyncio.sleep(pause)
    print("done", flush=True)


async def ws_relay(host, port, phost, pport):
    """A WebSocket server that relays each message to the Stratum pool as a line, and each line
    back as a message (what web-miner pool front ends do)."""
    import websockets

    async def handle(ws):
        r, w = await asyncio.open_connection(phost, pport)
        n = 0
        async for msg in ws:
            m = json.loads(msg)
            web = "type" in m
            if web:
                # The browser dialect, translated as the web-miner front ends do.
                n += 1
                if m["type"] == "auth":
                    m = {"id": n, "jsonrpc": "2.0", "method": "login",
                         "params": {"login": LOGIN, "pass": m["params"]["site_key"], "agent": "webminer-relay"}}
                else:
                    m = {"id": n, "jsonrpc": "2.0", "method": "submit", "params": dict(m["params"], id="1")}
            w.write(json.dumps(m).encode() + b"\n")
            await w.drain()
            line = await r.readline()
            if not line:
                break
            if not web:
                await ws.send(line.decode().rstrip("\n"))
                continue
            reply = json.loads(line)
            result = reply.get("result") or {}
            if "job" in result:
                await ws.send(json.dumps({"type": "authed", "params": {"token": "", "hashes": 0}}))
                await ws.send(json.dumps({"type": "job", "params": result["job"]}))
            elif result.get("status") == "OK":
                await ws.send(json.dumps({"type": "hash_accepted", "params": {"hashes": n - 1}}))
            else:
                await ws.send(json.dumps({"type": "error", "params": {"error": str(reply.get("error"))}}))
        w.close()

    async with websockets.serve(handle, host, port, compression=None):
        await asyncio.sleep(120)


def main(argv):
    cmd = argv[1]
    if cmd == "pool":
        pool(argv[2], argv[3], "--proxy-protocol" in argv)
    elif cmd == "miner":
        opts = dict(zip(argv[7::2], argv[8::2]))
        miner(argv[2], argv[3], argv[4], argv[5], argv[6], opts.get("--user"), opts.get("--password"),
              int(opts.get("--shares", "3")), float(opts.get("--pause", "0.05")))
    elif cmd == "ws-relay":
        asyncio.run(ws_relay(argv[2], int(argv[3]), argv[4], int(argv[5])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
