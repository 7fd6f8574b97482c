"""The rollover rules: a spec (or a whole document) in, errors and warnings with field paths out.

Pure: the clock is the `now` argument. The operator reports these findings as conditions; the CLI adds
YAML line numbers. What the CRD schema can check is also checked here, so the CLI catches it before merge.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from rollover import GROUP, KIND, VERSION
from rollover.api.models import (
    LABEL_KEY_MAX,
    LABEL_KEY_PREFIX_MAX,
    LABEL_NAME_MAX,
    NAME_PATTERN,
    NAMESPACE_PATTERN,
    DistrictRolloverSpec,
    SelectorOperator,
)
from rollover.calendar import SATURDAY, BusinessCalendar, CalendarError, Schedule, compute_schedule, time_zone
from rollover.catalog import load_catalog
from rollover.findings import LABEL_CHARACTERS, Finding, format_path, show_value, type_name
from rollover.pydantic_findings import finding_from_pydantic
from rollover.readiness import business_days_until, open_items, required_items
from rollover.reasons import RuleCode

API_VERSION = f"{GROUP}/{VERSION}"
WINDOW_START = (6, 1)  # June 1
WINDOW_END = (10, 1)  # October 1, inclusive
NAME_MAX = 253  # any object name
#: A rollover's name is the value of the rostering.k12.dev/rollover label on its Jobs.
ROLLOVER_NAME_MAX = LABEL_NAME_MAX
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


@dataclass(frozen=True)
class DocumentReport:
    """A checked document: its spec when that parsed, and every finding."""

    spec: DistrictRolloverSpec | None
    findings: tuple[Finding, ...]


# --- one spec ---------------------------------------------------------------------------------


def validate_spec(spec: DistrictRolloverSpec, now: dt.datetime, *, date_chosen: bool = True) -> list[Finding]:
    """The rollover rules on a parsed spec (pydantic has checked types, patterns and ranges).
    `date_chosen=False` is for a rollover already under way or done: its date was checked when it was
    chosen, so "in the future" and "the pause already started" no longer apply."""
    findings = [
        *_school_year_findings(spec),
        *_product_findings(spec),
        *_selector_findings(spec),
        *_readiness_findings(spec),
    ]
    calendar: BusinessCalendar | None = None
    today: dt.date | None = None
    try:
        calendar = BusinessCalendar(spec.calendar)
    except CalendarError as exc:
        findings.append(Finding.error(f"spec.{exc.field}", exc.code, str(exc)))
    try:
        today = now.astimezone(time_zone(spec.time_zone)).date()
    except CalendarError as exc:
        findings.append(Finding.error(f"spec.{exc.field}", exc.code, str(exc)))
    findings += _reset_date_findings(spec, calendar, today if date_chosen else None)
    if calendar is not None and today is not None:
        findings += _schedule_findings(spec, compute_schedule(spec), now if date_chosen else None)
    return findings


def _school_year_findings(spec: DistrictRolloverSpec) -> Iterator[Finding]:
    first, second = spec.school_year_bounds()
    if second != first + 1:
        yield Finding.error(
            "spec.schoolYear",
            RuleCode.SCHOOL_YEAR_INVALID,
            f"{spec.school_year} is not two consecutive years; expected e.g. {first}-{first + 1}",
        )


def _readiness_findings(spec: DistrictRolloverSpec) -> Iterator[Finding]:
    required, seen = set(required_items(spec)), set()
    for i, ack in enumerate(spec.readiness.acknowledged):
        field = f"spec.readiness.acknowledged[{i}].item"
        if ack.item not in required:
            known = ", ".join(required_items(spec)) or "none"
            yield Finding.warning(
                field,
                RuleCode.READINESS_ITEM_UNKNOWN,
                f"{ack.item!r} is not a readiness item of this district; items: {known}",
            )
        elif ack.item in seen:
            yield Finding.warning(
                field, RuleCode.READINESS_ITEM_ACKNOWLEDGED_TWICE, f"{ack.item!r} is acknowledged twice"
            )
        seen.add(ack.item)


def readiness_due_findings(spec: DistrictRolloverSpec, now: dt.datetime, business_days: int) -> list[Finding]:
    """A warning when readiness items are still open within `business_days` business days of the
    pause (and before the reset): `rollover lint` says it, the operator has its own condition."""
    items = open_items(spec)
    try:
        calendar, zone = BusinessCalendar(spec.calendar), time_zone(spec.time_zone)
    except CalendarError:
        return []  # validate_spec reports that
    schedule = compute_schedule(spec)
    left = business_days_until(calendar, now.astimezone(zone).date(), schedule.pause_date)
    if not items or left > business_days or now >= schedule.reset_at:
        return []
    when = "the pause started" if now >= schedule.pause_at else f"{left} business day(s) before the pause"
    return [
        Finding.warning(
            "spec.readiness",
            RuleCode.READINESS_DUE,
            f"{when} on {schedule.pause_date}, readiness item(s) not acknowledged: {', '.join(items)}; "
            "add {item, by, at} entries to spec.readiness.acknowledged once the district has finished them",
        )
    ]


def _school_year_valid(spec: DistrictRolloverSpec) -> bool:
    first, second = spec.school_year_bounds()
    return second == first + 1


def _selector_findings(spec: DistrictRolloverSpec) -> Iterator[Finding]:
    """Kubernetes' own LabelSelector rules, and a selector that selects something."""
    selector = spec.sync_selector
    if not selector.match_labels and not selector.match_expressions:
        yield Finding.error(
            "spec.syncSelector",
            RuleCode.FIELD_INVALID,
            "selects nothing: give matchLabels or matchExpressions; an empty selector pauses no roster "
            "sync, so archive and reset would run while it keeps syncing",
        )
    elif not selector.match_labels and not any(
        r.operator in (SelectorOperator.IN, SelectorOperator.EXISTS) for r in selector.match_expressions
    ):
        # NotIn/DoesNotExist alone match by absence: every CronJob and Deployment of the namespace
        # without some label, a co-located database included.
        yield Finding.error(
            "spec.syncSelector",
            RuleCode.SELECTOR_MATCHES_BY_ABSENCE,
            "selects by absence only (NotIn/DoesNotExist), which matches every CronJob and Deployment "
            "of the namespace lacking a label; give a matchLabels entry or an In/Exists expression",
        )
    for key in selector.match_labels:
        if problem := label_key_problem(key):
            field = format_path(["spec", "syncSelector", "matchLabels", key])
            yield Finding.error(field, RuleCode.FIELD_INVALID, f"key {show_value(key)} {problem}")
    for i, requirement in enumerate(selector.match_expressions):
        field = f"spec.syncSelector.matchExpressions[{i}]"
        if problem := label_key_problem(requirement.key):
            yield Finding.error(
                f"{field}.key", RuleCode.FIELD_INVALID, f"{show_value(requirement.key)} {problem}"
            )
        operator = requirement.operator
        if operator in (SelectorOperator.IN, SelectorOperator.NOT_IN) and not requirement.values:
            yield Finding.error(
                f"{field}.values",
                RuleCode.FIELD_INVALID,
                f"operator {operator.value} needs at least one value; use Exists to select any value",
            )
        elif operator in (SelectorOperator.EXISTS, SelectorOperator.DOES_NOT_EXIST) and requirement.values:
            comparing = (
                SelectorOperator.IN if operator is SelectorOperator.EXISTS else SelectorOperator.NOT_IN
            )
            yield Finding.error(
                f"{field}.values",
                RuleCode.FIELD_INVALID,
                f"operator {operator.value} takes no values; remove them, or use {comparing.value} "
                "to compare values",
            )


def label_key_problem(key: object) -> str | None:
    """Why `key` is not a Kubernetes label key (a qualified name: an optional DNS subdomain prefix and
    '/', then a name), or None when it is one."""
    if not isinstance(key, str):
        return f"is a {_kind_of(key)}; a label key is a string"
    prefix, slash, name = key.rpartition("/")
    if slash and len(prefix) > LABEL_KEY_PREFIX_MAX:
        return f"has a prefix (before '/') of {len(prefix)} characters; at most {LABEL_KEY_PREFIX_MAX}"
    if slash and not re.fullmatch(NAME_PATTERN, prefix):
        return (
            "has an invalid prefix (before '/'): expected a DNS subdomain of lowercase letters, digits, "
            "'-' and '.', e.g. rostering.k12.dev"
        )
    if len(name) > LABEL_NAME_MAX:
        return (
            f"has a name{' (after /)' if slash else ''} of {len(name)} characters; at most {LABEL_NAME_MAX}"
        )
    if not _LABEL_NAME.fullmatch(name):
        return (
            f"is not a label key: expected a name of 1-{LABEL_NAME_MAX} {LABEL_CHARACTERS}, "
            "optionally after a DNS subdomain prefix and '/'"
        )
    return None


def label_value_problem(value: object) -> str | None:
    """Why `value` is not a Kubernetes label value, or None when it is one."""
    if not isinstance(value, str):
        return f"is a {_kind_of(value)}; a label value is a string, quote it"
    if len(value) > LABEL_NAME_MAX:
        return f"is {len(value)} characters long; a label value has at most {LABEL_NAME_MAX}"
    if value and not _LABEL_NAME.fullmatch(value):
        return f"is not a label value: expected {LABEL_CHARACTERS}, or nothing"
    return None


def _product_findings(spec: DistrictRolloverSpec) -> Iterator[Finding]:
    known = load_catalog().products
    seen: set[str] = set()
    for i, product in enumerate(spec.products):
        field = f"spec.products[{i}]"
        if product in seen:
            yield Finding.error(
                field, RuleCode.PRODUCT_DUPLICATE, f"{product!r} is listed twice; list each product once"
            )
        elif product not in known:
            yield Finding.error(
                field,
                RuleCode.PRODUCT_UNKNOWN,
                f"{product!r} is not in the product catalog; known: {', '.join(known)}",
            )
        seen.add(product)


def _reset_date_findings(
    spec: DistrictRolloverSpec, calendar: BusinessCalendar | None, today: dt.date | None
) -> Iterator[Finding]:
    field, day = "spec.resetDate", spec.reset_date
    if day.weekday() >= SATURDAY:
        yield Finding.error(
            field,
            RuleCode.RESET_DATE_ON_WEEKEND,
            f"{day} is a {day:%A}; choose a business day (Monday-Friday)",
        )
    elif calendar is not None and (holiday := calendar.holiday_name(day)):
        yield Finding.error(
            field,
            RuleCode.RESET_DATE_ON_HOLIDAY,
            f"{day} is a holiday in {calendar.label} ({holiday}); choose a business day",
        )
    elif calendar is not None and calendar.is_closure(day):
        yield Finding.error(
            field,
            RuleCode.RESET_DATE_ON_CLOSURE,
            f"{day} is a district closure day (spec.calendar.closures); choose a business day",
        )
    if spec.exception is None:
        if not dt.date(day.year, *WINDOW_START) <= day <= dt.date(day.year, *WINDOW_END):
            yield Finding.error(
                field,
                RuleCode.RESET_DATE_OUTSIDE_WINDOW,
                f"{day} is outside the reset window June 1 - October 1; choose a date in the window "
                "or add spec.exception (approvedBy, reason) approved by the district's CSM",
            )
        _, closing_year = spec.school_year_bounds()
        # An invalid schoolYear is reported on its own; its second year says nothing about the date.
        if _school_year_valid(spec) and day.year != closing_year:
            yield Finding.error(
                field,
                RuleCode.RESET_DATE_WRONG_YEAR,
                f"{day} is not in {closing_year}, the second year of schoolYear {spec.school_year}; "
                "the reset closes that school year (a CSM exception in spec.exception allows otherwise)",
            )
    if today is not None and day <= today:
        yield Finding.error(
            field,
            RuleCode.RESET_DATE_NOT_IN_FUTURE,
            f"{day} is not in the future (today is {today} in {spec.time_zone}); "
            f"the earliest allowed date is {today + dt.timedelta(days=1)}",
        )
    for end_field, end, code, what in (
        (
            "schoolYearEnd",
            spec.school_year_end,
            RuleCode.RESET_DATE_NOT_AFTER_SCHOOL_YEAR_END,
            "the school year ends",
        ),
        (
            "summerSchoolEnd",
            spec.summer_school_end,
            RuleCode.RESET_DATE_NOT_AFTER_SUMMER_SCHOOL_END,
            "summer school ends",
        ),
    ):
        if end is not None and day <= end:
            yield Finding.error(
                field, code, f"{day} is on or before spec.{end_field} ({end}); choose a date after {what}"
            )


def _schedule_findings(
    spec: DistrictRolloverSpec, schedule: Schedule, now: dt.datetime | None
) -> Iterator[Finding]:
    summer_end = spec.summer_school_end
    if summer_end is not None and schedule.pause_date <= summer_end < spec.reset_date:
        yield Finding.warning(
            "spec.summerSchoolEnd",
            RuleCode.PAUSE_BEFORE_SUMMER_SCHOOL_END,
            f"summer school ends {summer_end}, on or after the pause on {schedule.pause_date}; the "
            "summer-school roster must be imported before the pause: move resetDate later or lower "
            "pause.businessDaysBefore",
        )
    if now is not None and schedule.pause_at <= now < schedule.reset_at:
        yield Finding.warning(
            "spec.resetDate",
            RuleCode.PAUSE_ALREADY_STARTED,
            f"the pause started at {schedule.pause_at.isoformat()}; roster sync pauses as soon as this "
            "is applied",
        )


# --- one document -----------------------------------------------------------------------------


def validate_document(raw: Mapping[str, Any], now: dt.datetime, *, date_chosen: bool = True) -> list[Finding]:
    """Every finding of a whole DistrictRollover document (apiVersion, kind, metadata, spec); never raises
    for bad input: a wrong kind, a missing field or a wrong type is a finding."""
    return list(check_document(raw, now, date_chosen=date_chosen).findings)


def check_document(raw: Mapping[str, Any], now: dt.datetime, *, date_chosen: bool = True) -> DocumentReport:
    """Like `validate_document`, and also returns the spec when it parsed."""
    kind = raw.get("kind")
    if kind != KIND:
        problem = "is required" if kind is None else f"{show_value(kind)} is not {KIND}"
        return DocumentReport(
            None, (Finding.error("kind", RuleCode.KIND_UNEXPECTED, f"{problem}; expected {KIND}"),)
        )
    findings = list(_header_findings(raw))
    if raw.get("spec") is None:
        findings.append(Finding.error("spec", RuleCode.FIELD_REQUIRED, "is required"))
        return DocumentReport(None, tuple(findings))
    try:
        spec = DistrictRolloverSpec.model_validate(raw.get("spec"))
    except ValidationError as exc:
        findings += (finding_from_pydantic(error) for error in exc.errors(include_url=False))
        return DocumentReport(None, tuple(findings))
    findings += validate_spec(spec, now, date_chosen=date_chosen)
    return DocumentReport(spec, tuple(findings))


def _header_findings(raw: Mapping[str, Any]) -> Iterator[Finding]:
    if raw.get("apiVersion") != API_VERSION:
        yield Finding.error(
            "apiVersion",
            RuleCode.API_VERSION_UNSUPPORTED,
            f"{show_value(raw.get('apiVersion'))} is not supported; use {API_VERSION}",
        )
    metadata = raw.get("metadata")
    if not isinstance(metadata, Mapping):
        yield Finding.error("metadata", RuleCode.METADATA_MISSING, "is required, with at least a name")
        return
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if name is None:
        yield Finding.error("metadata.name", RuleCode.NAME_MISSING, "is required")
    else:
        yield from name_findings(name)
    if namespace is not None and not (
        isinstance(namespace, str) and re.fullmatch(NAMESPACE_PATTERN, namespace)
    ):
        yield Finding.error(
            "metadata.namespace",
            RuleCode.NAMESPACE_INVALID,
            f"{show_value(namespace)} is not a valid namespace; use lowercase letters, digits and '-', "
            "at most 63 characters",
        )
    yield from _label_findings(metadata.get("labels"))


def name_findings(name: object) -> Iterator[Finding]:
    """A rollover's metadata.name: a valid object name, and short enough to label its Jobs."""
    if not (isinstance(name, str) and len(name) <= NAME_MAX and re.fullmatch(NAME_PATTERN, name)):
        yield Finding.error(
            "metadata.name",
            RuleCode.NAME_INVALID,
            f"{show_value(name)} is not a valid name; use lowercase letters, digits, '-' and '.', "
            f"at most {ROLLOVER_NAME_MAX} characters",
        )
    elif len(name) > ROLLOVER_NAME_MAX:
        yield Finding.error(
            "metadata.name",
            RuleCode.NAME_INVALID,
            f"at most {ROLLOVER_NAME_MAX} characters, it labels the rollover's Jobs ({GROUP}/rollover); "
            f"this name has {len(name)}: choose a shorter one",
        )


def _label_findings(labels: object) -> Iterator[Finding]:
    """metadata.labels as the apiserver checks them: label keys to label values."""
    if labels is None:
        return
    if not isinstance(labels, Mapping):
        yield Finding.error(
            "metadata.labels",
            RuleCode.FIELD_INVALID,
            f"expected a mapping of labels, got {type_name(labels)}",
        )
        return
    for key, value in labels.items():
        # A key too long to be one is not repeated in the path: the finding names the mapping.
        short = isinstance(key, str) and len(key) <= LABEL_KEY_MAX
        field = format_path(["metadata", "labels", key]) if short else "metadata.labels"
        if problem := label_key_problem(key):
            yield Finding.error(field, RuleCode.FIELD_INVALID, f"key {show_value(key)} {problem}")
        if problem := label_value_problem(value):
            yield Finding.error(field, RuleCode.FIELD_INVALID, f"{show_value(value)} {problem}")


def _kind_of(value: Any) -> str:
    """What a YAML scalar that should have been text is, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type_name(value)


# --- several documents ------------------------------------------------------------------------


def cross_document_findings(specs: Sequence[tuple[str, DistrictRolloverSpec]]) -> list[tuple[int, Finding]]:
    """Rules across the documents of one run. `specs` pairs a label for each document (where it is, for
    messages) with its spec; returns (index into `specs`, finding) pairs.

    One district has one DistrictRollover: a districtId used twice is an error. Documents whose
    districtIds match ignoring case look like the same district; if their dates differ, its products
    would get different dates, which the design rules out: a warning."""
    findings: list[tuple[int, Finding]] = []
    first_exact: dict[str, int] = {}
    first_folded: dict[str, int] = {}
    for i, (_, spec) in enumerate(specs):
        district = spec.district_id
        first = first_exact.setdefault(district, i)
        if first != i:
            text = f"{district!r} is also used by {specs[first][0]}; one DistrictRollover per district"
            findings.append((i, Finding.error("spec.districtId", RuleCode.DISTRICT_ID_DUPLICATE, text)))
        first = first_folded.setdefault(district.casefold(), i)
        label, other = specs[first]
        if first != i and _dates(other) != _dates(spec):
            text = (
                f"district {district!r} would get different dates for its products: {_describe_dates(spec)} "
                f"({', '.join(spec.products)}) here, {_describe_dates(other)} ({', '.join(other.products)}) "
                f"in {label}; a district has one reset date, so put all its products in one DistrictRollover"
            )
            findings.append((i, Finding.warning("spec.resetDate", RuleCode.DISTRICT_DATES_DIVERGE, text)))
    return findings


def _dates(spec: DistrictRolloverSpec) -> tuple[dt.date, dt.date | None]:
    """The reset and pause dates; the pause is unknown if the calendar is invalid (reported elsewhere)."""
    try:
        return spec.reset_date, compute_schedule(spec).pause_date
    except CalendarError:
        return spec.reset_date, None


def _describe_dates(spec: DistrictRolloverSpec) -> str:
    reset, pause = _dates(spec)
    return f"reset {reset}, pause {pause}" if pause else f"reset {reset}"
