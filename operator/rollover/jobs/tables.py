"""Where each catalog data kind lives in the roster store: the product tables of each product.

Mapping (catalog kind -> tables), all scoped by the columns (product, district_id, school_year):

  imagine-math, imagine-math-facts (schema imagine_math, rows tagged with their product):
    student_accounts   -> imagine_math.student_accounts  (user accounts: the retired-ID ledger's source)
    classrooms         -> imagine_math.classrooms, imagine_math.classroom_students
    student_tokens     -> imagine_math.student_tokens
    think_points       -> imagine_math.think_points
    student_avatars    -> imagine_math.student_avatars
    assessment_results -> imagine_math.assessment_results
    progress_records   -> imagine_math.progress_records
    pathway_records    -> imagine_math.pathway_records
    usage_records      -> imagine_math.usage_records
  twig-science (schema twig):
    classes -> twig.classes; enrollments -> twig.enrollments; assignments -> twig.assignments;
    student_answers -> twig.student_answers; assessment_results -> twig.assessment_results

Kinds no step touches need no tables: organizations and educator accounts are the shared OneRoster
tables (roster.orgs, roster.users with role teacher/administrator), and Twig's student accounts are the
roster's own users. Because each product deletes only rows tagged with its name from its own tables, an
Imagine Math reset cannot touch Twig's classes or the shared roster, and Imagine Math Facts' reset
leaves Imagine Math's rows alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from psycopg import sql

from rollover.jobs.config import Target

SCOPE_COLUMNS = ("product", "district_id", "school_year")


@dataclass(frozen=True)
class StoreTable:
    """One product table; `account_column` names the user ID column of an account table."""

    name: str
    kind: str
    account_column: str | None = None

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(*self.name.split("."))

    @property
    def file_name(self) -> str:
        """Its file in the archive."""
        return f"{self.name}.csv.gz"


# Each product's tables with every table after the tables it references: archived in this order,
# deleted in the reverse one, so foreign keys hold at every statement.
_IMAGINE_MATH = (
    StoreTable("imagine_math.student_accounts", "student_accounts", account_column="user_sourced_id"),
    StoreTable("imagine_math.classrooms", "classrooms"),
    StoreTable("imagine_math.classroom_students", "classrooms"),
    StoreTable("imagine_math.student_tokens", "student_tokens"),
    StoreTable("imagine_math.think_points", "think_points"),
    StoreTable("imagine_math.student_avatars", "student_avatars"),
    StoreTable("imagine_math.assessment_results", "assessment_results"),
    StoreTable("imagine_math.progress_records", "progress_records"),
    StoreTable("imagine_math.pathway_records", "pathway_records"),
    StoreTable("imagine_math.usage_records", "usage_records"),
)
_TWIG = (
    StoreTable("twig.classes", "classes"),
    StoreTable("twig.enrollments", "enrollments"),
    StoreTable("twig.assignments", "assignments"),
    StoreTable("twig.student_answers", "student_answers"),
    StoreTable("twig.assessment_results", "assessment_results"),
)
PRODUCT_TABLES: Mapping[str, tuple[StoreTable, ...]] = {
    "imagine-math": _IMAGINE_MATH,
    "imagine-math-facts": _IMAGINE_MATH,
    "twig-science": _TWIG,
}


def tables_for(product: str, kinds: Iterable[str]) -> tuple[StoreTable, ...]:
    """The product's tables holding `kinds`, referenced tables first; KeyError names an unmapped kind."""
    wanted = set(kinds)
    tables = PRODUCT_TABLES.get(product, ())
    unmapped = wanted - {t.kind for t in tables}
    if unmapped:
        raise KeyError(f"product {product!r} has no roster-store tables for {', '.join(sorted(unmapped))}")
    return tuple(t for t in tables if t.kind in wanted)


def scope(target: Target, alias: str | None = None) -> sql.Composed:
    """The WHERE condition selecting the target's rows (its product, district and school year), values
    as literals since COPY takes no parameters; columns qualified by `alias` if given."""
    values = (target.product, target.district_id, target.school_year)
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(*(alias, c) if alias else (c,)), sql.Literal(v))
        for c, v in zip(SCOPE_COLUMNS, values, strict=True)
    )
