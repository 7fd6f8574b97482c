"""Real receivers for the operator's notices, for tests and the demo: an SMTP server (aiosmtpd) and
an HTTP webhook receiver, each on a free localhost port in a thread of its own.

Each keeps what arrived, in order. The webhook receiver can be told to answer with an error status
(a receiver that is down), and both can call back on every arrival (the demo prints them).
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from rollover.devcluster.controlplane import free_port

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class Arrival:
    """One notice as a receiver got it."""

    channel: str  # `email`, or `webhook:NAME` (the path the webhook was posted to)
    id: str  # the Message-ID without <...@...>, or the CloudEvent id; "" for Slack text
    subject: str
    at: float  # wall time.time()
    body: Any  # the parsed EmailMessage, or the JSON the webhook got


@dataclass
class Receivers:
    """An SMTP server and a webhook receiver; `arrivals` in the order they came."""

    on_arrival: Callable[[Arrival], None] | None = None
    #: The address both listen on (the local node's host address when the operator runs in a pod).
    host: str = LOCALHOST
    arrivals: list[Arrival] = field(default_factory=list)
    #: While set, every webhook POST is answered with this status and not recorded.
    webhook_failure: int | None = None
    failed_posts: int = 0
    smtp_port: int = 0
    http_port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _smtp: Controller | None = None
    _http: ThreadingHTTPServer | None = None

    def start(self) -> Receivers:
        self.smtp_port, self.http_port = free_port(), free_port()
        self._smtp = Controller(_MailHandler(self), hostname=self.host, port=self.smtp_port)
        self._smtp.start()
        self._http = ThreadingHTTPServer((self.host, self.http_port), _webhook_handler(self))
        threading.Thread(target=self._http.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def __enter__(self) -> Receivers:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def url(self, channel: str) -> str:
        """Where the channel named `channel` posts."""
        return f"http://{self.host}:{self.http_port}/{channel}"

    def config(self, channels: dict[str, str], sender: str = "rollover@k12.dev") -> dict[str, Any]:
        """The operator configuration's `notifications:` for these receivers: channel name -> format."""
        return {
            "smtp": {"host": self.host, "port": self.smtp_port, "from": sender, "starttls": False},
            "channels": {name: {"url": self.url(name), "format": fmt} for name, fmt in channels.items()},
            "retryFirstSeconds": 60,
            "retryCapSeconds": 600,
        }

    def write_config(self, path: Path, channels: dict[str, str], **operator_config: Any) -> Path:
        """An operator configuration file with these receivers (and any other settings)."""
        path.write_text(json.dumps({**operator_config, "notifications": self.config(channels)}))
        return path

    def received(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def _arrived(self, arrival: Arrival) -> None:
        with self._lock:
            self.arrivals.append(arrival)
        if self.on_arrival is not None:
            self.on_arrival(arrival)


class _MailHandler:
    def __init__(self, receivers: Receivers) -> None:
        self.receivers = receivers

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message_id = str(message["Message-ID"] or "").strip().strip("<>").split("@")[0]
        self.receivers._arrived(
            Arrival("email", message_id, str(message["Subject"] or ""), time.time(), message)
        )
        return "250 Message accepted"


def _webhook_handler(receivers: Receivers) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            failure = receivers.webhook_failure
            if failure is not None:
                receivers.failed_posts += 1
                self.send_response(failure)
                self.end_headers()
                return
            payload = json.loads(body)
            channel = f"webhook:{self.path.strip('/')}"
            subject = payload.get("data", {}).get("summary") or payload.get("text", "").split("\n")[0]
            receivers._arrived(Arrival(channel, str(payload.get("id", "")), subject, time.time(), payload))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo prints arrivals
            return

    return Handler
