"""Delivers the notices the planner says are owed, off the reconcile path: one at a time per
rollover, each recorded in status (by the reconciler, the one writer of status) before the next goes.

Exactly once as the district sees it: a delivery is sent only when every earlier one of its rollover
is recorded, a recorded one is never owed again, and the stable ids (Message-ID, CloudEvent id) let
a receiver drop the resend that a crash between send and record can cause. A failed delivery is
retried with backoff on the operator's clock and reported (condition NotificationsDelivered=False,
with an error that names no URL and no secret); the rollover never waits for it.
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx2
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from rollover import logs, notice_text
from rollover.api.models import NoticeRecord
from rollover.config import ChannelConfig, ChannelFormat, NotificationsConfig
from rollover.controller.clock import SystemClock
from rollover.controller.retry import Backoff
from rollover.notices import EMAIL_CHANNEL, WEBHOOK_PREFIX, Delivery

log = logging.getLogger(__name__)

Key = tuple[str, str]


class DeliveryError(Exception):
    """A delivery failed; the message is safe for status (no URL, no credentials)."""


@dataclass
class Notifier:
    """Sends owed notices in the background and reports each outcome to `changed(key)`."""

    config: NotificationsConfig
    clock: SystemClock
    changed: Callable[[Key], None]
    #: Delivered, not yet seen in a written status: the reconciler records them.
    delivered: dict[Key, list[NoticeRecord]] = field(default_factory=dict)
    #: The last failure per rollover, until a delivery succeeds.
    errors: dict[Key, str] = field(default_factory=dict)
    _next: dict[Key, Delivery] = field(default_factory=dict)
    _tasks: dict[Key, asyncio.Task[None]] = field(default_factory=dict)
    _http: httpx2.AsyncClient | None = None
    #: Seconds of the operator's clock before the next try: doubling, capped.
    _backoff: Backoff = field(init=False)

    def __post_init__(self) -> None:
        self._backoff = Backoff(first=self.config.retry_first_seconds, cap=self.config.retry_cap_seconds)

    def offer(self, key: Key, owed: Sequence[Delivery], recorded: Sequence[NoticeRecord]) -> None:
        """The notices owed to `key` as of a status just written with `recorded`: deliver the first,
        once every earlier delivery is recorded."""
        waiting = [r for r in self.delivered.get(key, []) if r not in recorded]
        if waiting:
            self.delivered[key] = waiting
            return  # the next goes only after this one is in status
        self.delivered.pop(key, None)
        if not owed:
            self._next.pop(key, None)
            self.errors.pop(key, None)
            return
        self._next[key] = owed[0]
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.create_task(self._deliver(key), name=f"notify-{key[0]}/{key[1]}")

    def forget(self, key: Key) -> None:
        """The rollover is gone: nothing more is owed to it."""
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        for state in (self._next, self.delivered, self.errors):
            state.pop(key, None)

    def halt(self) -> None:
        """Stop every delivery now (leadership lost, shutdown); the next leader owes what is left."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def close(self) -> None:
        self.halt()
        if self._http is not None:
            await self._http.aclose()

    async def _deliver(self, key: Key) -> None:
        failures = 0
        while (delivery := self._next.get(key)) is not None:
            try:
                await self._send(delivery)
            except DeliveryError as exc:
                failures += 1
                self.errors[key] = str(exc)
                log.warning(
                    "notice %s to %s failed: %s",
                    delivery.notice.id,
                    delivery.channel,
                    exc,
                    extra=logs.fields(*key),
                )
                self.changed(key)
                await asyncio.sleep(self._backoff.delay(failures) / self.clock.rate)
                continue
            record = NoticeRecord(id=delivery.notice.id, channel=delivery.channel, sent_at=self.clock.now())
            log.info("notice %s delivered to %s", record.id, record.channel, extra=logs.fields(*key))
            self.delivered.setdefault(key, []).append(record)
            self.errors.pop(key, None)
            if self._next.get(key) == delivery:
                del self._next[key]
            self.changed(key)
            return

    async def _send(self, delivery: Delivery) -> None:
        if delivery.channel == EMAIL_CHANNEL:
            await self._send_email(delivery)
            return
        name = delivery.channel.removeprefix(WEBHOOK_PREFIX)
        channel = self.config.channels.get(name)
        if channel is None:
            raise DeliveryError(f"webhook {name}: not in the operator configuration")
        await self._post(name, channel, delivery)

    async def _send_email(self, delivery: Delivery) -> None:
        smtp = self.config.smtp
        if smtp is None:
            raise DeliveryError("email: no SMTP relay in the operator configuration (notifications.smtp)")
        message = email_message(delivery, smtp.from_)
        try:
            await aiosmtplib.send(
                message,
                hostname=smtp.host,
                port=smtp.port,
                start_tls=smtp.starttls,
                username=_read_secret(smtp.username_file, "email"),
                password=_read_secret(smtp.password_file, "email"),
                timeout=smtp.timeout_seconds,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"email: the mail relay refused the message (SMTP {exc.code})") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email: cannot reach the mail relay ({type(exc).__name__})") from None

    async def _post(self, name: str, channel: ChannelConfig, delivery: Delivery) -> None:
        headers, body = webhook_request(delivery, channel.format)
        if channel.secret_header_file is not None:
            line = _read_secret(channel.secret_header_file, f"webhook {name}") or ""
            header, _, value = line.partition(":")
            headers[header.strip()] = value.strip()
        if self._http is None:
            self._http = httpx2.AsyncClient(follow_redirects=False)
        try:
            response = await self._http.post(
                str(channel.url), content=body, headers=headers, timeout=channel.timeout_seconds
            )
        except httpx2.HTTPError as exc:
            # Not str(exc): an HTTP error's text names the URL, which may carry a token.
            raise DeliveryError(f"webhook {name}: cannot reach the receiver ({type(exc).__name__})") from None
        if not response.is_success:
            raise DeliveryError(f"webhook {name}: the receiver answered HTTP {response.status_code}")


def email_message(delivery: Delivery, sender: str) -> EmailMessage:
    """The email of a delivery: plain text and HTML, dated and identified by the notice."""
    notice = delivery.notice
    content = notice_text.email(notice)
    # Headers unfolded up to SMTP's line limit: a folded Message-ID is legal but some relays mangle it.
    message = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = ", ".join(delivery.recipients)
    message["Subject"] = content.subject
    message["Date"] = email.utils.format_datetime(notice.occurred_at)
    message["Message-ID"] = notice_text.message_id(notice)
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message


def webhook_request(delivery: Delivery, format_: ChannelFormat) -> tuple[dict[str, str], bytes]:
    """Headers and body of a webhook POST: a structured-mode CloudEvent, or a Slack message."""
    if format_ is ChannelFormat.SLACK:
        return {"content-type": "application/json"}, json.dumps(notice_text.slack(delivery.notice)).encode()
    attributes, data = notice_text.cloudevent(delivery.notice)
    message = to_structured(CloudEvent(attributes, data), JSONFormat())
    return dict(message.headers), message.body


def _read_secret(path: Path | None, channel: str) -> str | None:
    """A credential from its mounted file, read at each send (a rotated Secret takes effect)."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        raise DeliveryError(f"{channel}: cannot read its credentials file") from None
