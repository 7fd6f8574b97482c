"""`rollover-job check-ids`: a new year's users.csv against the retired-ID ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollover.jobs.main import main
from tests.integration.jobs.conftest import DISTRICT, OTHER_DISTRICT, Store

pytestmark = pytest.mark.integration

HEADER = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,givenName,familyName\n"


def users_csv(tmp: Path, rows: list[str]) -> Path:
    path = tmp / "users.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path


def check(store: Store, path: Path, district: str = DISTRICT) -> int:
    return main(["check-ids", str(path), "--district", district, "--database-url", store.url], env={})


def test_reports_each_retired_sourced_id_with_its_line_and_exits_1(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    store.run("archive")
    store.run("reset")
    path = users_csv(store.tmp, [
        "new-0001,active,2026-08-01,true,d1-sch-0001,student,new1,New,One",
        'd1-stu-0000003,active,2026-08-01,true,d1-sch-0001,student,s3,"Multi\nLine",Three',
        "d1-tch-000001,active,2026-08-01,true,d1-sch-0001,teacher,t1,Terry,Teach",
        "d1-stu-0000005,active,2026-08-01,true,d1-sch-0001,student,s5,Five,Five",
    ])  # fmt: skip

    code = check(store, path)

    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{path}:3: sourcedId d1-stu-0000003 is retired: 2025-2026 imagine-math (reset 2026-07-19)",
        f"{path}:6: sourcedId d1-stu-0000005 is retired: 2025-2026 imagine-math (reset 2026-07-19)",
    ]


def test_a_clean_file_and_another_districts_ids_exit_0(store: Store) -> None:
    store.run("archive")
    store.run("reset")
    path = users_csv(store.tmp, ["d1-stu-0000003,active,2026-08-01,true,x,student,s3,A,B"])

    assert check(store, path, OTHER_DISTRICT) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [("id,name\n1,x\n", "no sourcedId column"), (None, "No such file")],
    ids=["not-oneroster", "missing"],
)
def test_a_file_that_is_not_a_users_csv_is_a_usage_error(
    store: Store, caplog: pytest.LogCaptureFixture, content: str | None, message: str
) -> None:
    path = store.tmp / "input.csv"
    if content is not None:
        path.write_text(content)

    assert check(store, path) == 2
    assert message in caplog.text
