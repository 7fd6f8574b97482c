"""Benchmark: archive and reset of a large district, against the floor of the same data.

    python benchmarks/jobs_bench.py --students 500000   # the issue's size: ~21 million academic rows
    python benchmarks/jobs_bench.py --students 500000 --encrypt --s3 --record   # encrypted, file:// and s3://
    python benchmarks/jobs_bench.py --students 2000     # smoke (tests/integration/jobs/test_bench_smoke.py)

Starts a private PostgreSQL with durable settings (or uses --database-url, an empty database), runs
`rollover-job migrate` and `seed`, then VACUUM ANALYZE so both contenders read settled tables. For
every product of the catalog it times, alternately (--repeat times):

- the floor: `psql \\copy (SELECT * FROM table WHERE <the product's scope>) TO 'file' CSV HEADER`,
  one psql per table, for exactly the tables and rows the archive writes;
- `rollover-job archive` as a Job runs it (its own process, fresh destination each time), with
  --encrypt to a fresh age recipient (ARCHIVE_RECIPIENTS), and with --s3 once more to a local SeaweedFS
  (rollover.devcluster.s3; the same loopback and disks as the floor's files).

Then `rollover-job reset` of every product (against the s3:// archive with --s3: its verification
reads the archive back over S3). Reported: archive throughput (rows/s) and its ratio to
the floor (target >= 0.8), reset time, and the peak RSS of the job processes (wait4's ru_maxrss,
the largest of the job and its psql children): flat in the number of rows when it matches the smoke
run's. Writes JSON to benchmarks/out/ and prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
from pyrage import x25519

from rollover.catalog import load_catalog
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.s3 import S3Endpoint, S3Server
from rollover.jobs.config import ArchiveKey
from rollover.jobs.destination import open_destination
from rollover.jobs.main import main as rollover_job
from rollover.jobs.manifest import require_manifest
from rollover.jobs.tables import tables_for

DISTRICT = "bench"
YEAR = "2025-2026"
RESET_DATE = "2026-07-19"
OUT = Path(__file__).resolve().parent / "out"
RESULTS = Path(__file__).resolve().parent / "results.json"
#: Durable (fsync on), with the memory and WAL room a production server for this load would have.
SERVER_SETTINGS = {"shared_buffers": "512MB", "max_wal_size": "8GB", "checkpoint_timeout": "30min"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--students", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1, help="floor/archive rounds; the best of each counts")
    parser.add_argument("--database-url", help="an empty database to use instead of a private server")
    parser.add_argument("--out", type=Path, default=OUT, help="directory for the JSON report")
    parser.add_argument(
        "--work-dir", type=Path, help="where archives and floor files go (default: a temp dir)"
    )
    parser.add_argument("--encrypt", action="store_true", help="archive encrypted to a fresh age recipient")
    parser.add_argument("--s3", action="store_true", help="also archive to a local SeaweedFS over S3")
    parser.add_argument("--record", action="store_true", help="write the jobs_* keys of results.json")
    return parser.parse_args(argv)


@contextmanager
def database(url: str | None) -> Iterator[tuple[str, dict[str, str]]]:
    if url is not None:
        yield url, {}
        return
    with PostgresServer(settings=SERVER_SETTINGS) as server:
        yield server.url, SERVER_SETTINGS


def step(argv: list[str]) -> None:
    if rollover_job(argv, env={}) != 0:
        raise SystemExit(f"rollover-job {argv[0]} failed")


def psql_env(url: str) -> tuple[str, dict[str, str]]:
    """psql's conninfo without the password, and an environment that carries it."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    password = str(params.pop("password", "") or "")
    return psycopg.conninfo.make_conninfo(**params), {**os.environ, "PGPASSWORD": password}


def floor(url: str, target: Path) -> float:
    """Seconds for `psql \\copy ... TO` of every table every product's archive writes."""
    conninfo, env = psql_env(url)
    target.mkdir(parents=True)
    started = time.monotonic()
    for product, policy in load_catalog().products.items():
        for table in tables_for(product, policy.archive):
            where = f"product = '{product}' AND district_id = '{DISTRICT}' AND school_year = '{YEAR}'"
            file = target / f"{product}-{table.name}.csv"
            copy = f"\\copy (SELECT * FROM {table.name} WHERE {where}) TO '{file}' CSV HEADER"
            subprocess.run(["psql", "-X", "-q", "-d", conninfo, "-c", copy], env=env, check=True)
    return time.monotonic() - started


def run_job(
    step_name: str, product: str, url: str, archive_uri: str, logs: Path, job_env: dict[str, str]
) -> dict[str, Any]:
    """One Job, in its own process: wall seconds, peak RSS and its JSON result."""
    log = logs / f"{step_name}-{product}-{time.monotonic_ns()}.json"
    env = {
        **os.environ, "STEP": step_name, "PRODUCT": product, "DISTRICT_ID": DISTRICT, "SCHOOL_YEAR": YEAR,
        "RESET_DATE": RESET_DATE, "DATABASE_URL": url, "ARCHIVE_URI": archive_uri, **job_env,
    }  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rollover.jobs.main", "--termination-log", str(log)],
        env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(log.read_text())
    if proc.returncode != 0:
        raise SystemExit(f"rollover-job {step_name} {product} failed: {result.get('error')}")
    return {"seconds": seconds, "peakRssMb": usage.ru_maxrss / 1024, "result": result}


def archive_all(url: str, uri: str, logs: Path, job_env: dict[str, str]) -> dict[str, Any]:
    runs = {p: run_job("archive", p, url, uri, logs, job_env) for p in load_catalog().products}
    return {
        "seconds": sum(r["seconds"] for r in runs.values()),
        "peakRssMb": max(r["peakRssMb"] for r in runs.values()),
        "rows": sum(sum(r["result"]["rows"].values()) for r in runs.values()),
        "bytes": archive_bytes(uri, job_env),
        "products": {p: {"seconds": round(r["seconds"], 2), "rows": sum(r["result"]["rows"].values())}
                     for p, r in runs.items()},
    }  # fmt: skip


def archive_bytes(uri: str, job_env: dict[str, str]) -> int:
    """What the archives of every product take at `uri`: their files as the manifests list them."""
    dest = open_destination(uri, job_env)
    total = 0
    for product in load_catalog().products:
        manifest = require_manifest(dest, ArchiveKey(DISTRICT, YEAR, product))
        total += sum(f.size for f in manifest.files)
    return total


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(args: argparse.Namespace, work: Path, s3: S3Endpoint | None) -> dict[str, Any]:
    job_env = {"ARCHIVE_RECIPIENTS": str(x25519.Identity.generate().to_public())} if args.encrypt else {}
    s3_env = {**job_env, **s3.env()} if s3 is not None else {}
    with database(args.database_url) as (url, settings):
        step(["migrate", "--database-url", url])
        started = time.monotonic()
        step(["seed", "--district", DISTRICT, "--students", str(args.students), "--school-year", YEAR,
              "--database-url", url])  # fmt: skip
        seed_seconds = time.monotonic() - started
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
            database_bytes = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        floors, archives, s3_archives = [], [], []
        for round_ in range(args.repeat):
            floors.append((floor(url, work / f"floor-{round_}"), directory_bytes(work / f"floor-{round_}")))
            shutil.rmtree(work / f"floor-{round_}")
            (work / f"archive-{round_}").mkdir()
            archives.append(archive_all(url, (work / f"archive-{round_}").as_uri(), work, job_env))
            if s3 is not None:
                s3_archives.append(archive_all(url, f"{s3.uri}/archive-{round_}", work, s3_env))
        last = f"{s3.uri}/archive-{args.repeat - 1}" if s3 else (work / f"archive-{args.repeat - 1}").as_uri()
        resets = {
            p: run_job("reset", p, url, last, work, s3_env if s3 else job_env)
            for p in load_catalog().products
        }
    best_floor = min(floors)
    best = min(archives, key=lambda a: a["seconds"])
    s3_report = {}
    if s3_archives:
        best_s3 = min(s3_archives, key=lambda a: a["seconds"])
        s3_report = {
            "archiveS3": {"seconds": round(best_s3["seconds"], 2), "bytes": best_s3["bytes"],
                          "rowsPerSecond": round(best_s3["rows"] / best_s3["seconds"]),
                          "peakRssMb": round(max(a["peakRssMb"] for a in s3_archives), 1),
                          "samples": [round(a["seconds"], 2) for a in s3_archives]},
            "ratioS3": round(best_floor[0] / best_s3["seconds"], 3),
        }  # fmt: skip
    return {
        "encrypted": args.encrypt,
        "resetArchive": "s3" if s3 else "file",
        "students": args.students,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "serverSettings": settings,
        "databaseBytes": database_bytes,
        "seedSeconds": round(seed_seconds, 2),
        "rows": best["rows"],
        "floor": {"seconds": round(best_floor[0], 2), "csvBytes": best_floor[1],
                  "samples": [round(f[0], 2) for f in floors]},
        "archive": {"seconds": round(best["seconds"], 2), "bytes": best["bytes"],
                    "rowsPerSecond": round(best["rows"] / best["seconds"]),
                    "peakRssMb": round(max(a["peakRssMb"] for a in archives), 1),
                    "samples": [round(a["seconds"], 2) for a in archives], "products": best["products"]},
        "ratio": round(best_floor[0] / best["seconds"], 3),
        "reset": {"seconds": round(sum(r["seconds"] for r in resets.values()), 2),
                  "peakRssMb": round(max(r["peakRssMb"] for r in resets.values()), 1),
                  "rowsDeleted": sum(sum(r["result"]["deleted"].values()) for r in resets.values()),
                  "retiredIds": sum(r["result"]["retiredIds"] for r in resets.values()),
                  "products": {p: round(r["seconds"], 2) for p, r in resets.items()}},
        **s3_report,
    }  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    a, f, r = report["archive"], report["floor"], report["reset"]
    rows = [
        ("students", f"{report['students']:,}"),
        ("rows archived (all products)", f"{report['rows']:,}"),
        ("seed", f"{report['seedSeconds']} s"),
        ("floor: psql \\copy, same rows", f"{f['seconds']} s ({report['rows'] / f['seconds']:,.0f} rows/s)"),
        ("archive: rollover-job, all products", f"{a['seconds']} s ({a['rowsPerSecond']:,} rows/s)"),
        ("archive / floor throughput", f"{report['ratio']}x (target >= 0.8x)"),
        (
            f"archive size ({'encrypted ' if report['encrypted'] else ''}gzip CSV + export)",
            f"{a['bytes'] / 1e6:,.0f} MB (floor CSV {f['csvBytes'] / 1e6:,.0f} MB)",
        ),
        ("archive peak RSS", f"{a['peakRssMb']} MB"),
        *(
            [
                ("archive to s3:// (SeaweedFS), all products", f"{report['archiveS3']['seconds']} s"),
                ("s3:// archive / floor throughput", f"{report['ratioS3']}x"),
            ]
            if "archiveS3" in report
            else []
        ),
        ("reset: rollover-job, all products", f"{r['seconds']} s ({r['rowsDeleted']:,} rows deleted)"),
        ("reset peak RSS", f"{r['peakRssMb']} MB"),
    ]
    return "\n".join(["| measure | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="jobs-bench-", dir=args.work_dir))
        s3 = stack.enter_context(S3Server(Path(tmp) / "s3")) if args.s3 else None
        report = measure(args, Path(tmp), s3)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"jobs-{args.students}-{report['date'].replace(':', '')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\nreport: {path}")
    if args.record:
        record(report)
    return 0


def record(report: dict[str, Any]) -> None:
    """Set the jobs_* keys of benchmarks/results.json from this run, leaving every other key as it is."""
    results = json.loads(RESULTS.read_text())
    prefix = "jobs_encrypted_" if report["encrypted"] else "jobs_"
    results.update({
        f"{prefix}students": report["students"],
        f"{prefix}floor_s": report["floor"]["seconds"],
        f"{prefix}archive_file_s": report["archive"]["seconds"],
        f"{prefix}archive_file_ratio": report["ratio"],
        f"{prefix}reset_s": report["reset"]["seconds"],
        f"{prefix}peak_rss_mib": max(report["archive"]["peakRssMb"], report["reset"]["peakRssMb"]),
    })  # fmt: skip
    if "archiveS3" in report:
        results[f"{prefix}archive_s3_s"] = report["archiveS3"]["seconds"]
        results[f"{prefix}archive_s3_ratio"] = report["ratioS3"]
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
