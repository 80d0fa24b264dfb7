#!/usr/bin/env python3
"""A counting HTTP proxy for the scale bench: forwards every request on 127.0.0.1:<listen> to
127.0.0.1:<target> unchanged (SigV4 signs the Host header, which is passed as sent) and counts the
requests by kind. GET /__count answers the counts as JSON; GET /__bytes the response body bytes sent back
to the client (what it fetched); GET /__reset sets both to zero."""
import http.client, http.server, json, sys, threading

LISTEN, TARGET = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
counts = {}
fetched = [0]

def kind(method, path):
    bare, _, query = path.partition('?')
    if query == 'location' or query.startswith('location&'):
        return 'region'
    if 'list-type=2' in query or (method == 'GET' and bare.rstrip('/').count('/') == 1):
        return 'list'
    return method

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *args): pass
    def forward(self):
        if self.path.startswith('/__'):
            with lock:
                if self.path == '/__reset': counts.clear(); fetched[0] = 0
                body = json.dumps(fetched[0] if self.path == '/__bytes' else counts).encode()
            self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
            return
        with lock:
            k = kind(self.command, self.path); counts[k] = counts.get(k, 0) + 1
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection('127.0.0.1', TARGET, timeout=60)
        upstream.request(self.command, self.path, body=body, headers={k: v for k, v in self.headers.items()})
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ('transfer-encoding', 'content-length', 'connection'): self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)
            with lock: fetched[0] += len(data)
        upstream.close()
    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = forward

http.server.ThreadingHTTPServer(('127.0.0.1', LISTEN), Handler).serve_forever()
