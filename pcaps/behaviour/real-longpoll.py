#!/usr/bin/env python3
"""An HTTPS long-poll (Python's http.server and http.client over ssl, HTTP/1.1 keep-alive, no
SNI, no ALPN), for a negative capture of the behaviour watch: the server holds each GET until it
has news (at random, 1-25 s later, or 20 s at most) and answers with a small JSON; the client
asks again at once, and posts a small status now and then.

usage: real-longpoll.py server PORT CERT KEY | real-longpoll.py client PORT SECONDS
"""
import http.client, http.server, json, random, ssl, sys, time

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    rng = random.Random(9)
    def log_message(self, *a):
        pass
    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        time.sleep(min(20.0, self.rng.uniform(1, 25)))
        self.reply({"events": [{"id": self.rng.getrandbits(32), "kind": "update", "text": "y" * self.rng.randint(20, 400)}]})
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.reply({"ok": True})

def server(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd = http.server.HTTPServer(("127.0.0.1", port), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.serve_forever()

def client(port, secs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    rng = random.Random(4)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
    end = time.time() + secs
    while time.time() < end:
        if rng.random() < 0.2:
            body = json.dumps({"status": "online", "t": int(time.time())})
            conn.request("POST", "/status", body=body, headers={"Content-Type": "application/json"})
        else:
            conn.request("GET", "/poll?cursor=%d" % rng.getrandbits(24))
        conn.getresponse().read()
    conn.close()

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "server":
        server(int(a[2]), a[3], a[4])
    else:
        client(int(a[2]), float(a[3]))
