#!/usr/bin/env python3
"""A WebSocket ticker over TLS (websockets 12.0 on Python's ssl), for a negative capture of the
behaviour watch: the server pushes a quote every 2 s and news at random times; the client
keeps the library's ping (20 s) and now and then changes its subscription.

usage: real-websocket.py server PORT CERT KEY | real-websocket.py client PORT SECONDS
"""
import asyncio, json, random, ssl, sys, time
import websockets

async def handler(ws):
    rng = random.Random(3)
    async def news():
        while True:
            await asyncio.sleep(rng.expovariate(1 / 30))
            await ws.send(json.dumps({"type": "news", "id": rng.getrandbits(32), "headline": "x" * rng.randint(40, 900)}))
    task = asyncio.create_task(news())
    try:
        n = 0
        while True:
            n += 1
            await ws.send(json.dumps({"type": "quote", "seq": n, "sym": "ACME", "bid": 100 + rng.random(), "ask": 100.1 + rng.random(), "ts": time.time()}))
            await asyncio.sleep(2)
    except websockets.ConnectionClosed:
        pass
    finally:
        task.cancel()

async def server(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    async with websockets.serve(handler, "127.0.0.1", port, ssl=ctx):
        await asyncio.Future()

async def client(port, secs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    rng = random.Random(5)
    end = time.time() + secs
    # server_hostname="" : no SNI, as a client of a bare address.
    async with websockets.connect("wss://127.0.0.1:%d/feed" % port, ssl=ctx, server_hostname="") as ws:
        async def changes():
            while True:
                await asyncio.sleep(rng.expovariate(1 / 45))
                await ws.send(json.dumps({"op": "subscribe", "sym": rng.choice(["ACME", "INIT", "WXYZ"])}))
        task = asyncio.create_task(changes())
        while time.time() < end:
            try:
                await asyncio.wait_for(ws.recv(), timeout=max(0.1, end - time.time()))
            except asyncio.TimeoutError:
                break
        task.cancel()

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "server":
        asyncio.run(server(int(a[2]), a[3], a[4]))
    else:
        asyncio.run(client(int(a[2]), float(a[3])))
