"""Districts for fault runs (the fault tests and the soak): DistrictRollovers with the roster-sync
objects their selectors match, some suspended by their owners beforehand, some with an archive Job
made to fail."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollover.devcluster.invariants import RolloverKey
from rollover.devcluster.objects import (
    csv_import_deployment,
    district_namespace,
    district_rollover,
    sync_cronjob,
)
from rollover.labels import LABEL_PRODUCT, LABEL_ROLLOVER, LABEL_STEP

PRODUCTS = ("imagine-math", "imagine-math-facts", "twig-science")
CHICAGO = dt.timezone(dt.timedelta(hours=-5))  # CDT: every date of the runs is in July
# Business days in Illinois, July 2027 (no holidays): the staggered reset dates.
RESET_DATES = tuple(dt.date(2027, 7, d).isoformat() for d in (20, 21, 22, 23, 26, 27, 28, 29, 30))


@dataclass(frozen=True)
class District:
    """One DistrictRollover and the roster-sync objects its selector matches."""

    namespace: str
    name: str
    district_id: str
    reset_date: str
    products: tuple[str, ...]
    cronjobs: tuple[tuple[str, bool], ...]  # (name, suspended by its owner before the run)
    deployment_replicas: int | None = None  # a CSV-import Deployment, if any
    fail_archive: str | None = None  # the product whose archive pod is made to fail

    @property
    def key(self) -> RolloverKey:
        return (self.namespace, self.name)

    def labels(self) -> dict[str, str]:
        return {"district": self.name}

    def objects(self) -> list[dict[str, Any]]:
        """Its roster-sync CronJobs, its CSV-import Deployment if any, then its DistrictRollover."""
        docs: list[dict[str, Any]] = [
            sync_cronjob(name, self.namespace, self.labels(), suspend=suspended)
            for name, suspended in self.cronjobs
        ]
        if self.deployment_replicas is not None:
            docs.append(
                csv_import_deployment(
                    f"{self.name}-csv-import", self.namespace, self.labels(), self.deployment_replicas
                )
            )
        docs.append(
            district_rollover(
                self.name,
                self.namespace,
                district_id=self.district_id,
                reset_date=self.reset_date,
                products=self.products,
                sync_labels=self.labels(),
            )
        )
        return docs


def plan_districts(
    rng: random.Random,
    count: int,
    namespaces: Sequence[str],
    *,
    dates: Sequence[str] = RESET_DATES,
    failing: int | None = None,
    max_products: int = 2,
) -> list[District]:
    """`count` districts round-robin over `namespaces`, reset dates spread over `dates`; `failing`
    of them (default one in ten, at least one) get an archive Job that fails."""
    failing = max(1, count // 10) if failing is None else failing
    fail_at = set(rng.sample(range(count), min(failing, count)))
    districts = []
    for i in range(count):
        name = f"d{i:03d}"
        products = tuple(sorted(rng.sample(PRODUCTS, rng.randint(1, max_products))))
        # About a quarter suspended by their owners (always the very first one: never none).
        cronjobs = tuple(
            (f"{name}-sync-{k}", (i, k) == (0, 0) or rng.random() < 0.25) for k in range(rng.randint(1, 3))
        )
        districts.append(
            District(
                namespace=namespaces[i % len(namespaces)],
                name=name,
                district_id=f"US-{i:07d}",
                reset_date=dates[i % len(dates)],
                products=products,
                cronjobs=cronjobs,
                deployment_replicas=rng.randint(1, 3) if rng.random() < 0.2 else None,
                fail_archive=rng.choice(products) if i in fail_at else None,
            )
        )
    return districts


def create_objects(
    kubeconfig: Path, districts: Iterable[District], *, namespaces: Iterable[str] = ()
) -> None:
    """Create the namespaces (if asked; every district namespace is annotated with its districts), a
    CronJob no rollover selects, then every district's objects."""
    districts = list(districts)
    # Every namespace lists its districts: created here, or annotated if it exists (hence apply).
    namespace_docs = [
        district_namespace(ns, [d.district_id for d in districts if d.namespace == ns])
        for ns in sorted({*namespaces, *(d.namespace for d in districts)})
    ]
    _kubectl(kubeconfig, "apply", namespace_docs)
    docs: list[dict[str, Any]] = []
    for ns in sorted({d.namespace for d in districts}):
        # Selected by nobody: must come out of the run untouched.
        docs.append(sync_cronjob("unrelated-sync", ns, {"district": "nobody"}))
    for district in districts:
        docs += district.objects()
    _kubectl(kubeconfig, "create", docs)


def _kubectl(kubeconfig: Path, verb: str, docs: list[dict[str, Any]]) -> None:
    subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), verb, "-f", "-"],
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
        text=True,
        capture_output=True,
        check=True,
        timeout=300,
    )


def operator_config(path: Path) -> Path:
    """Write an operator config whose Job pods fail once and for all (backoffLimit 0: a failed pod
    is a failed Job)."""
    path.write_text(json.dumps({"defaultJob": {"backoffLimit": 0}}))
    return path


def fails(districts: Iterable[District]) -> Callable[[dict[str, Any]], bool]:
    """Which Job pods to fail (a `PodFinisher`'s `should_fail`): the archive pod of each district's
    `fail_archive` product."""
    chosen = {(d.namespace, d.name, d.fail_archive) for d in districts if d.fail_archive}

    def should_fail(pod: dict[str, Any]) -> bool:
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        return (
            labels.get(LABEL_STEP) == "archive"
            and (meta["namespace"], labels.get(LABEL_ROLLOVER), labels.get(LABEL_PRODUCT)) in chosen
        )

    return should_fail
