"""The HTTP server under the small stand-ins (tests/app_standin.py, tests/sns_standin.py): a
`ThreadingHTTPServer` on a free local port, in a thread, for the life of a `with` block. A stand-in
says what it answers to a POST in `answer_to(path, body)`: (status, content type, bytes)."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HttpStandIn:
    url: str

    def answer_to(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def __enter__(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                status, content_type, payload = standin.answer_to(
                    self.path, self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
