"""A tiny web app for the loopdev example: edits to app/ show up without a rebuild.

It uses only the core of the standard library (socket, threading, pathlib), so it also runs
on a minimal Python such as Debian's python3-minimal, which has no http.server or json.
"""

import os
import pathlib
import socket
import threading

ROOT = pathlib.Path(__file__).parent
PORT = int(os.environ.get("PORT", "8000"))
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".txt": "text/plain"}


def json_string(value):
    """A JSON string literal (escapes quotes, backslashes and control characters)."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def message_body():
    fields = {
        "message": (ROOT / "message.txt").read_text().strip(),
        "greeting": os.environ.get("GREETING", "hello"),
        "pod": os.environ.get("HOSTNAME", ""),
    }
    items = ", ".join(f"{json_string(k)}: {json_string(v)}" for k, v in fields.items())
    return 200, "application/json", ("{" + items + "}\n").encode()


def static_file(path):
    rel = "index.html" if path in ("", "/") else path.lstrip("/")
    base = (ROOT / "static").resolve()
    target = (base / rel).resolve()
    if base not in target.parents or not target.is_file():
        return 404, "text/plain", b"not found\n"
    return 200, TYPES.get(target.suffix, "application/octet-stream"), target.read_bytes()


def respond(path):
    if path == "/healthz":
        return 200, "text/plain", b"ok\n"
    if path == "/api/message":
        return message_body()
    return static_file(path.split("?", 1)[0])


def handle(conn, addr):
    with conn:
        request = conn.recv(65536).decode("latin-1")
        parts = request.split(" ", 2)
        path = parts[1] if len(parts) > 1 else "/"
        try:
            code, ctype, body = respond(path)
        except OSError as err:
            code, ctype, body = 500, "text/plain", f"{err}\n".encode()
        reason = {200: "OK", 404: "Not Found"}.get(code, "Error")
        head = f"HTTP/1.0 {code} {reason}\r\nContent-Type: {ctype}\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        conn.sendall(head.encode() + body)
        print(f"{addr[0]} GET {path} {code}", flush=True)


def main():
    server = socket.create_server(("", PORT), reuse_port=False)
    print(f"hello app listening on :{PORT}", flush=True)
    while True:
        conn, addr = server.accept()
        threading.Thread(target=handle, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    main()
