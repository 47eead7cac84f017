"""A local stand-in for Amazon SNS's `Publish` (the AWS query protocol: a form-encoded POST in, XML
out), so the `sns` text-message sender runs through the real boto3 client over HTTP in tests.
Point boto3 at it with AWS_ENDPOINT_URL_SNS. `fail_with` makes it answer an AWS error instead."""
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PUBLISHED = """<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>{message_id}</MessageId></PublishResult>
  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</PublishResponse>"""
ERROR = """<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>{request_id}</RequestId>
</ErrorResponse>"""


class SnsStandIn:
    def __init__(self):
        self.published: list[dict] = []
        self.fail_with: tuple[int, str] | None = None  # e.g. (400, "Throttling")

    def handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                form = {key: values[0] for key, values in parse_qs(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()).items()}
                if standin.fail_with or form.get("Action") != "Publish":
                    status, code = standin.fail_with or (400, "InvalidAction")
                    body = ERROR.format(code=code, message="stand-in error", request_id=uuid.uuid4())
                else:
                    standin.published.append(form)
                    status, body = 200, PUBLISHED.format(message_id=uuid.uuid4(), request_id=uuid.uuid4())
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
