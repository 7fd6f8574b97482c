"""District notices on the real control plane, to a real SMTP server and a real webhook receiver,
with the operator on an accelerated clock: each notice arrives once per channel and in order, with
district-local times; a kill -9 resends nothing recorded; a failing receiver delays only notices.
The rollovers' archive and reset Jobs run as pods of the project's image on the session's node, and
the failed archive fails for real."""

from __future__ import annotations

import datetime as dt
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rollover.controller.clock import AcceleratedClock
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.receivers import Arrival, Receivers
from rollover.devcluster.s3 import S3Endpoint
from tests.conftest import RunningControlPlane
from tests.integration.configs import JobsOnNode, create_roster_secret
from tests.integration.kube import Kube, condition, operator, rollover_doc, wait_for

pytestmark = pytest.mark.integration

CHICAGO = ZoneInfo("America/Chicago")
LABELS = {"district": "springfield"}
RESET = "rostering.k12.dev/step=reset"
#: Without the preflight's pods: these tests are about the notices of the pause and after.
NO_PREFLIGHT = {"enabled": False}
CHANNELS = {"ops": "cloudevents", "chat": "slack"}
NOTIFY = {"emails": ["it@springfield.k12.il.us", "office@springfield.k12.il.us"], "channels": ["ops", "chat"]}
#: 2 simulated hours per real second: slow enough to kill the operator between two notices.
RATE = 7200


@pytest.fixture
def kube(control_plane: RunningControlPlane, namespace: str) -> Kube:
    return Kube(control_plane, namespace)


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    with Receivers() as started:
        yield started


def recorded(kube: Kube) -> list[tuple[str, str]]:
    return [
        (n["id"], n["channel"]) for n in kube.rollover("springfield").get("status", {}).get("notices", [])
    ]


def kinds(arrivals: list[Arrival], channel: str) -> list[str]:
    """The notice kinds a channel got, in order (Slack text carries no id: its subject says it)."""
    got = [a for a in arrivals if a.channel == channel]
    if channel == "webhook:chat":
        return [a.subject for a in got]
    return [a.id.split(".")[0] for a in got]


def rollover_condition(kube: Kube, type_: str) -> dict[str, Any]:
    return condition(kube.rollover("springfield"), type_)


def test_every_notice_arrives_once_in_order_across_a_kill(
    control_plane: RunningControlPlane,
    kube: Kube,
    jobs_on_node: JobsOnNode,
    receivers: Receivers,
    tmp_path: Path,
) -> None:
    config = receivers.write_config(
        tmp_path / "config.yaml", CHANNELS, defaultJob=jobs_on_node.default_job(), preflight=NO_PREFLIGHT
    )
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, notify=NOTIFY))
    start = "2027-07-14T08:00:00-05:00"  # PauseAhead at 09:00, the pause at midnight
    clock = AcceleratedClock(dt.datetime.fromisoformat(start), RATE)
    log = tmp_path / "operator.log"
    with operator(control_plane, kube.ns, log, clock_start=start, rate=RATE, config=config) as first:
        wait_for(lambda: len(recorded(kube)) == 3, what="PauseAhead recorded on its three channels")
        assert clock.now() < dt.datetime(2027, 7, 15, tzinfo=CHICAGO), "killed before the pause"
        first.send_signal(signal.SIGKILL)
        first.wait()
    with operator(control_plane, kube.ns, log, clock_start=clock.now().isoformat(), rate=RATE, config=config):
        kube.wait_phase("springfield", "Completed", timeout=120)
        wait_for(lambda: len(recorded(kube)) == 9, what="every notice recorded")

    arrivals = receivers.received()
    assert (
        Counter((a.channel, a.id) for a in arrivals if a.channel != "webhook:chat").most_common(1)[0][1] == 1
    )
    assert kinds(arrivals, "email") == ["pause-ahead", "paused", "completed"]
    assert kinds(arrivals, "webhook:ops") == ["pause-ahead", "paused", "completed"]
    chat = kinds(arrivals, "webhook:chat")
    assert len(chat) == 3 and "pauses Thu 2027-07-15 00:00 CDT" in chat[0] and "archived and reset" in chat[2]
    ahead = next(a for a in arrivals if a.channel == "email")
    assert ahead.body["Date"].endswith("-0500")
    text = ahead.body.get_body(("plain",)).get_content()
    assert "Thu 2027-07-15 00:00 CDT" in text and "Fri 2027-07-16 00:00 CDT" in text
    assert {a.addr_spec for a in ahead.body["To"].addresses} == set(NOTIFY["emails"])
    completed = [a for a in arrivals if a.channel == "webhook:ops"][-1].body
    assert completed["type"] == "dev.k12.rostering.rollover.completed"
    assert completed["subject"] == f"{kube.ns}/springfield"
    archives = {p["archive"] for p in completed["data"]["products"]}
    assert archives == {
        f"{jobs_on_node.archive}/IL-0631950/2026-2027/{product}/manifest.json"
        for product in ("imagine-math", "twig-science")
    }
    assert rollover_condition(kube, "NotificationsDelivered")["status"] == "True"


def test_a_failing_webhook_delays_only_the_notices(
    control_plane: RunningControlPlane, kube: Kube, receivers: Receivers, tmp_path: Path
) -> None:
    """The receiver answers 500 from just before the pause until an hour past it: the pause and the
    reset keep their times, and Paused goes out (once) when it answers again. A PauseAhead still
    undelivered at the pause is no longer true and is dropped, not sent late."""
    rate = 3600
    config = receivers.write_config(tmp_path / "config.yaml", CHANNELS)
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, notify={"channels": ["ops"]}))
    receivers.webhook_failure = 500
    start = "2027-07-14T21:00:00-05:00"  # three hours (seconds) ahead: the operator is up by then
    clock = AcceleratedClock(dt.datetime.fromisoformat(start), rate)
    pause_at = dt.datetime(2027, 7, 15, tzinfo=CHICAGO)
    with operator(
        control_plane, kube.ns, tmp_path / "operator.log", clock_start=start, rate=rate, config=config
    ):
        failed = wait_for(
            lambda: (
                rollover_condition(kube, "NotificationsDelivered").get("status") == "False"
                and rollover_condition(kube, "NotificationsDelivered")
            ),
            what="NotificationsDelivered=False",
        )
        assert failed["reason"] == "NotificationFailed"
        assert "HTTP 500" in failed["message"] and "127.0.0.1" not in failed["message"]
        paused = kube.wait_phase("springfield", "Paused")
        paused_at = dt.datetime.fromisoformat(paused["status"]["syncTargets"][0]["pausedAt"])
        assert pause_at <= paused_at < pause_at + dt.timedelta(hours=1), "paused on time"
        wait_for(lambda: clock.now() >= pause_at + dt.timedelta(hours=1), what="an hour after the pause")
        assert receivers.received() == [] and receivers.failed_posts >= 2
        receivers.webhook_failure = None
        wait_for(lambda: recorded(kube), what="Paused delivered once the receiver is back")
        archiving = kube.wait_phase("springfield", "Archiving", timeout=60)
        archive = next(j for j in archiving["status"]["jobs"] if j["step"] == "archive")
        started = dt.datetime.fromisoformat(archive["startedAt"])
        reset_at = dt.datetime(2027, 7, 16, tzinfo=CHICAGO)
        assert reset_at <= started < reset_at + dt.timedelta(hours=1), "archiving started on time"
    assert kinds(receivers.received(), "webhook:ops") == ["paused"]
    assert len(recorded(kube)) == 1
    assert rollover_condition(kube, "NotificationsDelivered")["status"] == "True"


def test_a_failed_archive_tells_what_broke_and_what_the_csm_does_next(
    control_plane: RunningControlPlane,
    kube: Kube,
    jobs_on_node: JobsOnNode,
    s3: S3Endpoint,
    pod_store: PostgresServer,
    receivers: Receivers,
    tmp_path: Path,
) -> None:
    # A wrong key in the Secret: the archive Job fails for real (backoffLimit 0).
    create_roster_secret(kube, pod_store, s3, AWS_SECRET_ACCESS_KEY="not-" + s3.secret_key)
    config = receivers.write_config(
        tmp_path / "config.yaml", CHANNELS, defaultJob=jobs_on_node.default_job(), preflight=NO_PREFLIGHT
    )
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, products=["imagine-math"], notify={"emails": NOTIFY["emails"]}))
    with operator(control_plane, kube.ns, tmp_path / "operator.log", config=config):
        kube.wait_phase("springfield", "Failed", timeout=90)
        wait_for(lambda: any(i.startswith("failed.") for i, _ in recorded(kube)), what="Failed recorded")
    arrivals = receivers.received()
    # PauseAhead may be dropped on a loaded machine (1.5 s between it and the pause at x36000).
    got = kinds(arrivals, "email")
    assert got[-2:] == ["paused", "failed"] and len(got) == len(set(got))
    failed = arrivals[-1].body
    assert failed["Subject"].endswith("the rollover failed")
    text = failed.get_body(("plain",)).get_content()
    assert f"archive destination {jobs_on_node.archive} is unreachable" in text and s3.secret_key not in text
    assert "nothing was deleted" in text and "kubectl rollover retry" in text


def test_a_cycle_held_before_its_reset_tells_the_district_held_not_completed(
    control_plane: RunningControlPlane,
    kube: Kube,
    jobs_on_node: JobsOnNode,
    receivers: Receivers,
    tmp_path: Path,
) -> None:
    config = receivers.write_config(
        tmp_path / "config.yaml", CHANNELS, defaultJob=jobs_on_node.default_job(), preflight=NO_PREFLIGHT
    )
    kube.cronjob("clever-sync", LABELS)
    hold = {"by": "counsel:kim.lee", "reason": "litigation hold 2027-114"}
    kube.apply(rollover_doc(kube.ns, products=["twig-science"], notify=NOTIFY, legalHold=hold))
    with operator(control_plane, kube.ns, tmp_path / "operator.log", config=config):
        done = kube.wait_phase("springfield", "Completed", timeout=90)
        wait_for(lambda: any(i.startswith("held.") for i, _ in recorded(kube)), what="Held recorded")
        wait_for(lambda: len([i for i, _ in recorded(kube) if i.startswith("held.")]) == 3, what="3 channels")
    assert not kube.items("pods", "-l", RESET)
    arrivals = receivers.received()
    for channel in ("email", "webhook:ops"):
        got = kinds(arrivals, channel)
        assert got[-1] == "held" and "completed" not in got
    email = next(a for a in arrivals if a.channel == "email" and a.id.startswith("held."))
    text = email.body.get_body(("plain",)).get_content()
    assert "archived but not reset" in text
    (archived,) = [j["result"]["rows"] for j in done["status"]["jobs"] if j["step"] == "archive"]
    rows = sum(archived.values())
    assert (
        "counsel:kim.lee (litigation hold 2027-114)" in text
        and f"twig-science: {rows:,} rows archived" in text
    )
    event = next(a for a in arrivals if a.channel == "webhook:ops" and a.id.startswith("held.")).body
    assert event["type"] == "dev.k12.rostering.rollover.held"
    assert event["data"]["legalHold"] == "counsel:kim.lee (litigation hold 2027-114)"
    assert "archived, not reset (legal hold)" in kinds(arrivals, "webhook:chat")[-1]
