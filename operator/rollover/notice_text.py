"""What a notice says: the email (subject, plain text, HTML), the CloudEvent's type and data, the
Slack text. Pure; times in the district's time zone. Everything shown comes from the rollover's
spec and status, so the HTML escapes every value.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
from dataclasses import dataclass
from typing import Any

from rollover.notices import Notice, NoticeKind

CLOUDEVENT_TYPE_PREFIX = "dev.k12.rostering.rollover."
CLOUDEVENT_SOURCE = "/district-rollover"
MESSAGE_ID_DOMAIN = "rollover.rostering.k12.dev"


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


def local(moment: dt.datetime) -> str:
    """`Thu 2027-07-15 00:00 CDT`: a time as the district reads it (already in its zone)."""
    return moment.strftime("%a %Y-%m-%d %H:%M %Z")


def subject(notice: Notice) -> str:
    """The one-line summary: email subject, Slack headline, what the demo prints."""
    who = f"{notice.district_name} ({notice.district_id})"
    return {
        NoticeKind.PREFLIGHT_FAILED: f"{who}: the rollover's preflight check failed",
        NoticeKind.PAUSE_AHEAD: f"{who}: roster sync pauses {local(notice.pause_at)}",
        NoticeKind.PAUSED: f"{who}: roster sync paused; archive and reset {local(notice.reset_at)}",
        NoticeKind.STALLED: f"{who}: the rollover is stalled",
        NoticeKind.FAILED: f"{who}: the rollover failed",
        NoticeKind.COMPLETED: f"{who}: school year {notice.school_year} archived and reset",
        NoticeKind.HELD: f"{who}: school year {notice.school_year} archived, not reset (legal hold)",
    }[notice.kind]


def paragraphs(notice: Notice) -> list[str]:
    """The body, paragraph by paragraph (a list item is a paragraph starting with `- `)."""
    year, pause, reset = notice.school_year, local(notice.pause_at), local(notice.reset_at)
    body: list[str] = []
    if notice.kind is NoticeKind.PAUSE_AHEAD:
        body.append(
            f"Roster sync for {notice.district_name} pauses {pause}: from then on, changes in your SIS "
            f"do not reach our products until the rollover is done. On {reset} last year's "
            f"({year}) data is archived, then reset; roster sync resumes right after."
        )
        if notice.open_items:
            body.append("Please finish these before the pause:")
            body.extend(f"- {item}" for item in notice.open_items)
        else:
            body.append("Please finish entering grades and download any reports you need before the pause.")
    elif notice.kind is NoticeKind.PAUSED:
        body.append(
            f"Roster sync for {notice.district_name} paused {pause}. Archive and reset of school year "
            f"{year} start {reset}; roster sync resumes when they are done."
        )
    elif notice.kind is NoticeKind.COMPLETED:
        body.append(
            f"School year {year} of {notice.district_name} was archived and reset; roster sync resumed "
            f"{local(notice.occurred_at)}."
        )
        body.extend(
            f"- {o.product}: {_count(o.archived_rows)} rows archived, {_count(o.deleted_rows)} rows "
            f"deleted; archive: {o.archive or 'not reported'}"
            for o in notice.outcomes
        )
    elif notice.kind is NoticeKind.HELD:
        body.append(
            f"School year {year} of {notice.district_name} was archived but not reset: the reset was skipped "
            f"for a legal hold placed by {notice.hold}. Roster sync resumed {local(notice.occurred_at)}; "
            "last year's data stays in our products."
        )
        body.extend(
            f"- {o.product}: {_count(o.archived_rows)} rows archived, none deleted; archive: "
            f"{o.archive or 'not reported'}"
            for o in notice.outcomes
        )
        body.append(notice.next_step)
    else:
        state = {
            NoticeKind.PREFLIGHT_FAILED: f"The check before the pause ({pause}) found a problem",
            NoticeKind.STALLED: "The rollover is waiting and cannot go on by itself",
            NoticeKind.FAILED: "The rollover stopped",
        }[notice.kind]
        body.append(f"{state} ({local(notice.occurred_at)}): {notice.problem or 'no details'}.")
        body.append(notice.next_step)
    body.append(f"Rollover {notice.namespace}/{notice.name}; notice {notice.id}.")
    return body


def _count(rows: int | None) -> str:
    return "?" if rows is None else f"{rows:,}"


def email(notice: Notice) -> EmailContent:
    """The email: the same paragraphs as plain text and as HTML."""
    parts = paragraphs(notice)
    text = parts[0]
    for before, part in itertools.pairwise(parts):
        text += ("\n" if before.startswith("- ") and part.startswith("- ") else "\n\n") + part
    text += "\n"
    blocks, items = [], []
    for part in [*parts, ""]:
        if part.startswith("- "):
            items.append(f"<li>{html.escape(part[2:])}</li>")
            continue
        if items:
            blocks.append(f"<ul>{''.join(items)}</ul>")
            items = []
        if part:
            blocks.append(f"<p>{html.escape(part)}</p>")
    page = f"<html><body><h3>{html.escape(subject(notice))}</h3>{''.join(blocks)}</body></html>\n"
    return EmailContent(subject(notice), text, page)


def message_id(notice: Notice) -> str:
    """The email's Message-ID: stable per notice, so a mailbox drops a resend after a crash."""
    return f"<{notice.id}@{MESSAGE_ID_DOMAIN}>"


def cloudevent(notice: Notice) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CloudEvent's attributes and data (JSON)."""
    attributes = {
        "id": notice.id,
        "source": CLOUDEVENT_SOURCE,
        "type": f"{CLOUDEVENT_TYPE_PREFIX}{notice.kind.slug}",
        "subject": f"{notice.namespace}/{notice.name}",
        "time": notice.occurred_at,
        "datacontenttype": "application/json",
    }
    data: dict[str, Any] = {
        "notice": notice.kind.value,
        "districtId": notice.district_id,
        "districtName": notice.district_name,
        "schoolYear": notice.school_year,
        "pauseAt": notice.pause_at.isoformat(),
        "resetAt": notice.reset_at.isoformat(),
        "summary": subject(notice),
        "text": "\n\n".join(paragraphs(notice)),
    }
    if notice.open_items:
        data["openItems"] = list(notice.open_items)
    if notice.outcomes:
        data["products"] = [
            {
                "product": o.product,
                "archive": o.archive,
                "archivedRows": o.archived_rows,
                "deletedRows": o.deleted_rows,
            }
            for o in notice.outcomes
        ]
    if notice.hold:
        data["legalHold"] = notice.hold
    if notice.problem:
        data["problem"] = notice.problem
    if notice.next_step:
        data["nextStep"] = notice.next_step
    return attributes, data


def slack(notice: Notice) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook payload (mrkdwn text)."""
    lines = [f"*{subject(notice)}*", *paragraphs(notice)]
    # Slack reads <...> as links and mentions: the three characters it asks to be escaped.
    text = "\n".join(lines).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {"text": text}
