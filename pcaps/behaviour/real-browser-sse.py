#!/usr/bin/env python3
"""A web page with a server-sent event stream over HTTPS (Python's http.server and ssl, HTTP/1.1),
for a negative capture of a real browser: the page opens an EventSource, and the server pushes an
event of ~100-300 bytes at random times (every 2-8 s) on that long-lived connection.

usage: real-browser-sse.py PORT CERT KEY
"""
import http.server, random, socketserver, ssl, sys, time

PAGE = b"""<!doctype html><html><body><pre id=log></pre><script>
const es = new EventSource('/events');
es.onmessage = e => { document.getElementById('log').textContent += e.data.length + '\\n'; };
</script></body></html>"""

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    rng = random.Random(11)
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path != "/events":
            self.send_response(200 if self.path == "/" else 404)
            body = PAGE if self.path == "/" else b""
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        n = 0
        while True:
            time.sleep(self.rng.uniform(2, 8))
            n += 1
            data = "x" * self.rng.randint(100, 300)
            try:
                self.wfile.write(f"id: {n}\ndata: {data}\n\n".encode())
                self.wfile.flush()
            except OSError:
                return

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    s = Server(("127.0.0.1", port), Handler)
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
    s.serve_forever()

if __name__ == "__main__":
    main()
