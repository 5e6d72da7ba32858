"""A tiny web app for the loopdev example: edits to app/ show up without a rebuild."""

import http.server
import json
import os
import pathlib

ROOT = pathlib.Path(__file__).parent
PORT = int(os.environ.get("PORT", "8000"))


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(ROOT / "static"), **kwargs)

    def do_GET(self):
        if self.path == "/healthz":
            return self._send(200, "text/plain", b"ok\n")
        if self.path == "/api/message":
            body = {
                "message": (ROOT / "message.txt").read_text().strip(),
                "greeting": os.environ.get("GREETING", "hello"),
                "pod": os.environ.get("HOSTNAME", ""),
            }
            return self._send(200, "application/json", json.dumps(body).encode() + b"\n")
        return super().do_GET()

    def _send(self, code, ctype, data):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


if __name__ == "__main__":
    print(f"hello app listening on :{PORT}", flush=True)
    http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()
