"""A local stand-in for Amazon SNS's `Publish` (the AWS query protocol: a form-encoded POST in, XML
out), so the `sns` text-message sender runs through the real boto3 client over HTTP in tests.
Point boto3 at it with AWS_ENDPOINT_URL_SNS. `fail_with` makes it answer an AWS error instead."""
import uuid
from urllib.parse import parse_qs

from tests.http_standin import HttpStandIn

PUBLISHED = """<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>{message_id}</MessageId></PublishResult>
  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</PublishResponse>"""
ERROR = """<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>{request_id}</RequestId>
</ErrorResponse>"""


class SnsStandIn(HttpStandIn):
    def __init__(self):
        self.published: list[dict] = []
        self.fail_with: tuple[int, str] | None = None  # e.g. (400, "Throttling")

    def answer_to(self, path, body):
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        if self.fail_with or form.get("Action") != "Publish":
            status, code = self.fail_with or (400, "InvalidAction")
            answer = ERROR.format(code=code, message="stand-in error", request_id=uuid.uuid4())
        else:
            self.published.append(form)
            status, answer = 200, PUBLISHED.format(message_id=uuid.uuid4(), request_id=uuid.uuid4())
        return status, "text/xml", answer.encode()
