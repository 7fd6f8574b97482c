"""District claims: one owner per district, school year and product, across namespaces and shards.

Two DistrictRollovers for the same district whose products overlap in the same school year would
archive and delete the same students twice, on two schedules, from two teams' YAML. The first to
claim wins: a claim is one ConfigMap per (district, school year) in the operator's own namespace,
whose data maps each claimed product to the rollover holding it. Creating it is atomic (one of two
racing creates gets AlreadyExists) and changing it is guarded by its resourceVersion, so two shards
or replicas can never both hold a product, and no district author can write one (they have no access
to the operator's namespace).

Pure: parsing and deciding only; `cluster/claims.py` writes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rollover import GROUP

#: Label on every claim ConfigMap (the operator watches only these in its namespace).
LABEL_CLAIM = f"{GROUP}/claim"
_PRODUCT_PREFIX = "product."


@dataclass(frozen=True, order=True)
class Holder:
    """The rollover holding a claim: where it is and which incarnation (a re-created rollover of
    the same name is another holder)."""

    namespace: str
    name: str
    uid: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def encode(self) -> str:
        return f"{self.namespace}/{self.name}/{self.uid}"

    @classmethod
    def decode(cls, value: str) -> Holder | None:
        parts = value.split("/")
        return cls(*parts) if len(parts) == 3 and all(parts) else None


@dataclass(frozen=True)
class Claim:
    """Who holds which product of one district in one school year."""

    district_id: str
    school_year: str
    holders: Mapping[str, Holder]  # product -> holder

    def taken_from(self, me: Holder, products: Iterable[str]) -> dict[str, Holder]:
        """The products among `products` that another rollover holds."""
        return {p: h for p in products if (h := self.holders.get(p)) is not None and h != me}

    def held_by(self, me: Holder) -> frozenset[str]:
        return frozenset(p for p, h in self.holders.items() if h == me)


def claim_name(district_id: str, school_year: str) -> str:
    """The ConfigMap's name: a hash of the district ID (IDs may hold characters or a length a name
    cannot) and the school year."""
    digest = hashlib.sha256(district_id.encode()).hexdigest()[:20]
    return f"district-{digest}-{school_year}"


def claim_data(district_id: str, school_year: str, holders: Mapping[str, Holder]) -> dict[str, str]:
    """The ConfigMap's data for these holders."""
    return {"districtId": district_id, "schoolYear": school_year} | {
        f"{_PRODUCT_PREFIX}{product}": holder.encode() for product, holder in sorted(holders.items())
    }


def parse_claim(body: Mapping[str, Any]) -> Claim | None:
    """A claim from its ConfigMap; None if it is not one (damaged claims hold nothing)."""
    data = body.get("data") or {}
    district, year = data.get("districtId"), data.get("schoolYear")
    if not isinstance(district, str) or not isinstance(year, str):
        return None
    holders = {}
    for key, value in data.items():
        if key.startswith(_PRODUCT_PREFIX) and (holder := Holder.decode(str(value))) is not None:
            holders[key.removeprefix(_PRODUCT_PREFIX)] = holder
    return Claim(district, year, holders)
