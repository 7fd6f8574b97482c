"""The catalog-kind -> table mapping, and the SQL built from it."""

from __future__ import annotations

import datetime as dt

import pytest

from rollover.catalog import load_catalog
from rollover.jobs import export
from rollover.jobs.config import Target
from rollover.jobs.tables import PRODUCT_TABLES, scope, tables_for

pytestmark = pytest.mark.unit


def target(product: str) -> Target:
    return Target("d1", "2025-2026", product, dt.date(2026, 7, 19), load_catalog().policy(product))


@pytest.mark.parametrize("product", sorted(load_catalog().products))
def test_every_kind_a_product_archives_or_deletes_has_tables(product: str) -> None:
    policy = load_catalog().policy(product)

    archived = tables_for(product, policy.archive)

    assert {t.kind for t in archived} == set(policy.archive)
    assert set(tables_for(product, policy.delete)) <= set(archived)


def test_an_unmapped_kind_is_named() -> None:
    with pytest.raises(KeyError, match="no roster-store tables for educator_accounts"):
        tables_for("imagine-math", ["usage_records", "educator_accounts"])


def test_tables_come_after_the_tables_they_reference() -> None:
    """Foreign keys between product tables: deleting in reverse order never breaks one."""
    for product, parent, children in [
        ("imagine-math", "imagine_math.classrooms", ["imagine_math.classroom_students"]),
        ("twig-science", "twig.classes", ["twig.enrollments", "twig.assignments"]),
    ]:
        names = [t.name for t in PRODUCT_TABLES[product]]
        assert all(names.index(parent) < names.index(child) for child in children)


def test_only_account_tables_feed_the_ledger() -> None:
    accounts = {t.name for tables in PRODUCT_TABLES.values() for t in tables if t.account_column}

    assert accounts == {"imagine_math.student_accounts"}


def test_scope_selects_one_products_rows_of_one_district_and_year() -> None:
    assert scope(target("twig-science"), alias="a").as_string() == (
        """"a"."product" = 'twig-science' AND "a"."district_id" = 'd1' AND "a"."school_year" = '2025-2026'"""
    )


def test_the_student_data_export_has_the_columns_of_the_products_kinds() -> None:
    facts = export.export_query(target("imagine-math-facts")).as_string()
    math = export.export_query(target("imagine-math")).as_string()

    assert '"minutes"' in facts and '"lessonsPassed"' in facts
    assert '"thinkPoints"' not in facts and '"tokens"' not in facts
    assert all(
        f'"{column}"' in math for column in ("thinkPoints", "tokens", "averageAssessmentScore", "pathways")
    )
    assert "\n" not in math  # psql's \copy takes one line
