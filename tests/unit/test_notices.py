"""District notices, pure: which are due when, each delivered once per channel, and what they say."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import functools
import json
import re
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given
from hypothesis import strategies as st

from rollover import notice_text
from rollover.api.models import (
    Condition,
    ConditionType,
    DistrictRolloverSpec,
    DistrictRolloverStatus,
    JobRecord,
    JobState,
    NoticeRecord,
    Phase,
    Step,
)
from rollover.config import ChannelFormat, NotificationsConfig
from rollover.controller.clock import SystemClock
from rollover.controller.notifier import Notifier, email_message, webhook_request
from rollover.notice_text import cloudevent, message_id, slack
from rollover.notices import (
    Delivery,
    NoticeKind,
    deliveries,
    due_notices,
    kept_records,
    notice_id,
    pause_ahead_at,
    unknown_channels,
    usable_channels,
)
from rollover.observed import Observed
from rollover.planner import Plan, Rollover, Settings, plan
from rollover.readiness import describe
from tests.unit.test_planner import CHICAGO, CREATED, NAME, PAUSE_AT, RESET_AT, YEAR
from tests.unit.test_planner import spec as planner_spec

pytestmark = pytest.mark.unit

NS = "district-il"
AHEAD_AT = dt.datetime(2027, 7, 14, 9, tzinfo=CHICAGO)  # Wednesday 09:00: the business day before
NOTIFY = {"emails": ["it@springfield.k12.il.us", "principal@springfield.k12.il.us"], "channels": ["ops"]}
SETTINGS = Settings(
    notice_channels={"ops": None, "csm": None, "other-district-room": frozenset({"district-ca"})},
    preflight_business_days=None,
)


def spec(**overrides: Any) -> dict[str, Any]:
    """test_planner's district, with a display name that needs escaping and spec.notify."""
    return planner_spec(**({"displayName": "Springfield <SD> & Co", "notify": NOTIFY} | overrides))


@functools.cache
def _accepted(notify: bool) -> DistrictRolloverStatus:
    overrides = {} if notify else {"notify": None}
    return plan(
        Rollover(NS, NAME, 1, spec(**overrides), DistrictRolloverStatus()), Observed(), CREATED
    ).status


def accepted(**overrides: Any) -> DistrictRolloverStatus:
    return _accepted("notify" not in overrides)


def planned(
    status: DistrictRolloverStatus, now: dt.datetime, observed: Observed | None = None, **overrides: Any
) -> Plan:
    return plan(Rollover(NS, NAME, 1, spec(**overrides), status), observed or Observed(), now, SETTINGS)


def at_phase(phase: Phase, **update: Any) -> DistrictRolloverStatus:
    return accepted().model_copy(update={"phase": phase, **update})


def channels(p: Plan) -> list[tuple[str, str]]:
    return [(d.notice.kind.value, d.channel) for d in p.deliveries]


# --- when -------------------------------------------------------------------------------------


def test_pause_ahead_is_the_business_day_before_the_pause_at_nine_district_time() -> None:
    parsed = DistrictRolloverSpec.model_validate(spec(resetDate="2027-07-06"))  # pause Fri Jul 2
    # Mon Jul 5 is the observed Independence Day: the pause is Fri Jul 2, and PauseAhead Thu Jul 1.
    assert pause_ahead_at(parsed, dt.date(2027, 7, 2)) == dt.datetime(2027, 7, 1, 9, tzinfo=CHICAGO)


def test_a_scheduled_rollover_wakes_for_pause_ahead_and_owes_nothing_before() -> None:
    p = planned(accepted(), CREATED)
    assert p.deliveries == ()
    assert p.wake_at == AHEAD_AT
    assert p.status.next_transition_at == PAUSE_AT  # the phase's own next step is unchanged
    assert p.status.condition(ConditionType.NOTIFICATIONS_DELIVERED) is not None


def test_without_notify_nothing_is_owed_and_no_condition_is_set() -> None:
    status = accepted(notify=None)
    p = planned(status, AHEAD_AT, notify=None)
    assert p.deliveries == ()
    assert p.wake_at == PAUSE_AT
    assert p.status.condition(ConditionType.NOTIFICATIONS_DELIVERED) is None


def test_at_pause_ahead_time_it_owes_the_email_and_each_channel() -> None:
    p = planned(accepted(), AHEAD_AT)
    assert channels(p) == [("PauseAhead", "email"), ("PauseAhead", "webhook:ops")]
    assert p.deliveries[0].recipients == tuple(NOTIFY["emails"])
    assert p.wake_at == PAUSE_AT


def test_a_delivered_notice_is_recorded_and_never_owed_again() -> None:
    first = planned(accepted(), AHEAD_AT)
    sent = NoticeRecord(id=first.deliveries[0].notice.id, channel="email", sent_at=AHEAD_AT)
    recorded = planned(first.status, AHEAD_AT, Observed(delivered=(sent,)))
    assert recorded.status.notices == [sent]
    assert channels(recorded) == [("PauseAhead", "webhook:ops")]
    again = planned(recorded.status, AHEAD_AT + dt.timedelta(hours=1))
    assert channels(again) == [("PauseAhead", "webhook:ops")]


def test_a_late_rollover_skips_pause_ahead_and_owes_paused() -> None:
    p = planned(at_phase(Phase.PAUSED), PAUSE_AT + dt.timedelta(hours=2))
    assert [k for k, _ in channels(p)] == ["Paused", "Paused"]


def test_failed_stalled_and_preflight_failed_carry_the_problem_and_what_to_do() -> None:
    stalled = Condition(
        type="Stalled",
        status="True",
        reason="ArchiveFailed",
        message="twig-science: Job x failed: cannot write the archive",
        last_transition_time=RESET_AT,
    )
    job = JobRecord(
        name="x", step=Step.ARCHIVE, product="twig-science", state=JobState.FAILED, result={"error": "denied"}
    )
    status = at_phase(Phase.FAILED, conditions=[stalled], jobs=[job])
    failed = due_notices(NS, NAME, _spec(), status, RESET_AT)
    assert [n.kind for n in failed] == [NoticeKind.FAILED]
    assert "cannot write the archive" in failed[0].problem
    assert failed[0].problem.endswith("; twig-science archive: denied"), "what the Job itself said"
    assert "kubectl rollover retry" in failed[0].next_step
    preflight = Condition(
        type="PreflightPassed",
        status="False",
        reason="ArchiveUnwritable",
        message="archive: denied",
        last_transition_time=CREATED,
    )
    due = due_notices(NS, NAME, _spec(), at_phase(Phase.SCHEDULED, conditions=[preflight]), CREATED)
    assert [n.kind for n in due] == [NoticeKind.PREFLIGHT_FAILED]


def test_an_unknown_channel_names_the_field_and_the_others_still_get_notices() -> None:
    p = planned(accepted(), AHEAD_AT, notify={"emails": [], "channels": ["nope", "ops"]})
    condition = p.status.condition(ConditionType.NOTIFICATIONS_DELIVERED)
    assert condition is not None
    assert (condition.status, condition.reason) == ("False", "NotifyChannelUnknown")
    assert "spec.notify.channels[0]" in condition.message
    assert channels(p) == [("PauseAhead", "webhook:ops")]


def test_a_channel_scoped_to_another_namespace_is_unknown_here_and_gets_nothing() -> None:
    p = planned(accepted(), AHEAD_AT, notify={"emails": [], "channels": ["other-district-room", "ops"]})
    condition = p.status.condition(ConditionType.NOTIFICATIONS_DELIVERED)
    assert condition is not None
    assert (condition.status, condition.reason) == ("False", "NotifyChannelUnknown")
    assert "spec.notify.channels[0]: no channel 'other-district-room' for this namespace" in condition.message
    assert channels(p) == [("PauseAhead", "webhook:ops")], "nothing is posted into another district's room"


@given(st.sets(st.sampled_from(["a", "b", "c"])), st.sampled_from(["ns-1", "ns-2", None]))
def test_a_channel_is_usable_from_the_namespaces_it_lists_or_from_all_when_it_lists_none(
    listed: set[str], namespace: str | None
) -> None:
    scopes: dict[str, frozenset[str] | None] = {"open": None, "scoped": frozenset({"ns-1"})}
    usable = usable_channels(scopes, namespace)
    assert "open" in usable
    assert ("scoped" in usable) == (namespace in (None, "ns-1"))
    assert {name for name in listed if name not in scopes} == {
        n
        for _, n in unknown_channels(
            DistrictRolloverSpec.model_validate(spec(notify={"channels": sorted(listed)})), scopes, namespace
        )
    }


def test_a_failed_delivery_says_why_without_holding_up_the_rollover() -> None:
    error = "webhook ops: the receiver answered HTTP 500"
    p = planned(at_phase(Phase.PAUSED), RESET_AT - dt.timedelta(hours=1), Observed(notice_error=error))
    condition = p.status.condition(ConditionType.NOTIFICATIONS_DELIVERED)
    assert condition is not None and condition.status == "False" and error in condition.message
    without = planned(at_phase(Phase.PAUSED), RESET_AT - dt.timedelta(hours=1))
    assert p.actions == without.actions and p.status.phase == without.status.phase


def test_records_of_older_cycles_are_dropped() -> None:
    records = [
        NoticeRecord(id=notice_id(NS, NAME, year, NoticeKind.COMPLETED), channel="email", sent_at=CREATED)
        for year in ("2024-2025", "2025-2026")
    ]
    assert [r.id.split(".")[1] for r in kept_records(records, YEAR)] == ["2025-2026"]


_CYCLE = [
    (Phase.SCHEDULED, CREATED),
    (Phase.SCHEDULED, AHEAD_AT),
    (Phase.SCHEDULED, AHEAD_AT + dt.timedelta(hours=3)),
    (Phase.PAUSED, PAUSE_AT),
    (Phase.ARCHIVING, RESET_AT),
    (Phase.RESETTING, RESET_AT + dt.timedelta(hours=1)),
    (Phase.COMPLETED, RESET_AT + dt.timedelta(hours=2)),
]


@given(
    sends=st.lists(st.integers(min_value=0, max_value=3), min_size=len(_CYCLE), max_size=len(_CYCLE)),
    repeats=st.lists(st.integers(min_value=1, max_value=3), min_size=len(_CYCLE), max_size=len(_CYCLE)),
)
def test_every_notice_reaches_each_channel_at_most_once_and_in_order(
    sends: list[int], repeats: list[int]
) -> None:
    """However many passes each state gets and however many deliveries land in each, no (notice,
    channel) is owed after it is recorded, and each channel hears the notices in the cycle's order."""
    parsed = _spec()
    recorded: list[NoticeRecord] = []
    for (phase, now), sent, passes in zip(_CYCLE, sends, repeats, strict=True):
        for _ in range(passes):
            status = at_phase(phase, notices=list(recorded))
            owed = deliveries(due_notices(NS, NAME, parsed, status, now), parsed, recorded)
            assert not {(d.notice.id, d.channel) for d in owed} & {(r.id, r.channel) for r in recorded}
            recorded += [NoticeRecord(id=d.notice.id, channel=d.channel, sent_at=now) for d in owed[:sent]]
    order = [k.slug for k in (NoticeKind.PAUSE_AHEAD, NoticeKind.PAUSED, NoticeKind.COMPLETED)]
    for channel in ("email", "webhook:ops"):
        kinds = [r.id.split(".")[0] for r in recorded if r.channel == channel]
        assert kinds == sorted(kinds, key=order.index)


# --- what they say ----------------------------------------------------------------------------


#: The open readiness item of `_delivery`'s PauseAhead, as a notice says it.
GRADES = describe("grades-finalized")


def _spec(**overrides: Any) -> DistrictRolloverSpec:
    return DistrictRolloverSpec.model_validate(spec(**overrides))


def _delivery(kind: NoticeKind, status: DistrictRolloverStatus, now: dt.datetime) -> Delivery:
    notice = next(
        n
        for n in due_notices(NS, NAME, _spec(readiness={"items": ["grades-finalized"]}), status, now)
        if n.kind is kind
    )
    return Delivery(notice, "email", tuple(NOTIFY["emails"]))


def test_the_email_has_text_and_html_in_district_time_and_a_stable_message_id() -> None:
    delivery = _delivery(NoticeKind.PAUSE_AHEAD, accepted(), AHEAD_AT)
    parsed = email.message_from_bytes(bytes(email_message(delivery, "rollover@k12.dev")))
    expected = "<pause-ahead.2026-2027.springfield.district-il@rollover.rostering.k12.dev>"
    assert parsed["Message-ID"] == expected
    assert message_id(_delivery(NoticeKind.PAUSE_AHEAD, accepted(), AHEAD_AT).notice) == expected
    assert parsed["Date"].endswith("-0500")  # CDT
    assert "Thu 2027-07-15 00:00 CDT" in parsed["Subject"]
    text, page = (part.get_payload(decode=True).decode() for part in parsed.walk() if not part.is_multipart())
    assert "Fri 2027-07-16 00:00 CDT" in text and f"- {GRADES}" in text
    assert f"<li>{GRADES}</li>" in page
    assert "Springfield &lt;SD&gt; &amp; Co" in page and "<SD>" not in page


def test_the_cloudevent_is_valid_and_identified_by_the_notice() -> None:
    delivery = _delivery(NoticeKind.PAUSE_AHEAD, accepted(), AHEAD_AT)
    headers, body = webhook_request(delivery, ChannelFormat.CLOUDEVENTS)
    event = from_structured(HTTPMessage(headers, body), JSONFormat(), CloudEvent)
    assert headers["content-type"].startswith("application/cloudevents+json")
    assert event.get_type() == "dev.k12.rostering.rollover.pause-ahead"
    assert event.get_subject() == "district-il/springfield"
    assert event.get_id() == delivery.notice.id
    data = event.get_data()
    assert isinstance(data, dict) and data["openItems"] == [GRADES]
    assert data["pauseAt"] == "2027-07-15T00:00:00-05:00"
    again = _delivery(NoticeKind.PAUSE_AHEAD, accepted(), AHEAD_AT)
    assert cloudevent(delivery.notice) == cloudevent(again.notice)


def test_slack_text_escapes_what_slack_would_read_as_markup() -> None:
    delivery = _delivery(NoticeKind.PAUSE_AHEAD, accepted(), AHEAD_AT)
    _, body = webhook_request(delivery, ChannelFormat.SLACK)
    text = json.loads(body)["text"]
    assert text == slack(delivery.notice)["text"]
    assert "&lt;SD&gt; &amp; Co" in text and "<SD>" not in text


def test_completed_lists_each_product_with_its_archive_and_no_credentials() -> None:
    def job(step: Step, product: str, result: dict[str, Any]) -> JobRecord:
        return JobRecord(
            name=f"{product}-{step}", step=step, product=product, state=JobState.SUCCEEDED, result=result
        )

    ARCHIVE = "bucket/a/manifest.json"
    jobs = [
        job(
            Step.ARCHIVE,
            "twig-science",
            {"manifest": f"s3://key:secret@{ARCHIVE}", "rows": {"t": 5, "u": 7}},
        ),
        job(Step.RESET, "twig-science", {"deleted": {"t": 5}}),
    ]
    delivery = _delivery(NoticeKind.COMPLETED, at_phase(Phase.COMPLETED, jobs=jobs), RESET_AT)
    text = email_message(delivery, "rollover@k12.dev").get_body(("plain",))
    assert text is not None
    content = text.get_content()
    assert "twig-science: 12 rows archived, 5 rows deleted; archive: s3://bucket/a/manifest.json" in content
    assert "secret" not in content


def test_held_says_archived_not_reset_under_whose_hold_and_what_happens_next() -> None:
    archived = JobRecord(
        name="a", step=Step.ARCHIVE, product="twig-science", state=JobState.SUCCEEDED, result={"rows": 9}
    )
    status = at_phase(
        Phase.COMPLETED, jobs=[archived], reset_skipped_by="counsel:kim <lee> (records request)"
    )
    (notice,) = due_notices(NS, NAME, _spec(), status, RESET_AT)
    assert notice.kind is NoticeKind.HELD and notice.id == notice_id(NS, NAME, YEAR, NoticeKind.HELD)
    content = notice_text.email(notice)
    assert content.subject.endswith("school year 2026-2027 archived, not reset (legal hold)")
    assert "skipped for a legal hold placed by counsel:kim <lee> (records request)" in content.text
    assert "twig-science: 9 rows archived, none deleted" in content.text
    assert "will not run later" in content.text and "removed by hand" in content.text, "no retention here"
    assert "counsel:kim &lt;lee&gt;" in content.html
    _, data = cloudevent(notice)
    assert data["legalHold"] == "counsel:kim <lee> (records request)" and "problem" not in data
    assert data["products"] == [
        {"product": "twig-science", "archive": "", "archivedRows": 9, "deletedRows": None}
    ]
    assert data["nextStep"] == notice.next_step


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@given(name=_TEXT, problem=_TEXT)
def test_no_district_written_text_becomes_markup_in_html_or_slack(name: str, problem: str) -> None:
    """Whatever a district author puts in displayName (or a Job puts in a failure message), the HTML
    part and the Slack text show it as text: no tag, no link, no mention is ever made of it."""
    stalled = Condition(
        type="Stalled", status="True", reason="ArchiveFailed", message=problem, last_transition_time=RESET_AT
    )
    status = at_phase(Phase.FAILED, conditions=[stalled])
    (notice,) = due_notices(NS, NAME, _spec(displayName=name or None), status, RESET_AT)
    page = notice_text.email(notice).html
    assert page.count("<") == len(re.findall(r"</?(html|body|h3|p|ul|li)>", page)), "only our own tags"
    assert "<" not in slack(notice)["text"] and ">" not in slack(notice)["text"]


async def test_the_notifier_sends_the_next_only_after_the_last_is_recorded() -> None:
    changed: list[tuple[str, str]] = []
    notifier = Notifier(NotificationsConfig(retry_first_seconds=3600), SystemClock(), changed.append)
    key = (NS, NAME)
    ahead = _delivery(NoticeKind.PAUSE_AHEAD, accepted(), AHEAD_AT)
    sent = NoticeRecord(id=ahead.notice.id, channel="webhook:ops", sent_at=AHEAD_AT)
    notifier.delivered[key] = [sent]

    notifier.offer(key, [ahead], recorded=[])  # the last delivery is not in status yet: wait
    assert notifier.delivered[key] == [sent] and not changed

    notifier.offer(key, [ahead], recorded=[sent])  # recorded: the next goes (and fails: no relay)
    await asyncio.sleep(0.05)
    assert key not in notifier.delivered
    assert notifier.errors[key] == "email: no SMTP relay in the operator configuration (notifications.smtp)"
    assert changed == [key]

    notifier.forget(key)  # the rollover was deleted: no more retries
    assert key not in notifier.errors
    await notifier.close()


def test_once_every_due_notice_is_recorded_waiting_writes_nothing() -> None:
    status = at_phase(Phase.PAUSED)
    owed = planned(status, PAUSE_AT).deliveries
    records = tuple(NoticeRecord(id=d.notice.id, channel=d.channel, sent_at=PAUSE_AT) for d in owed)
    settled = planned(status, PAUSE_AT, Observed(delivered=records)).status
    for hours in (1, 5, 23):
        later = planned(settled, PAUSE_AT + dt.timedelta(hours=hours))
        assert later.deliveries == ()
        assert later.status == settled, "an idle rollover's status is unchanged: no write"
