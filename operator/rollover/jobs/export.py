"""The Student Data Export: one CSV row per student with the product's year-to-date usage and results.

The guides ask districts to download it before the reset; the archive writes it for them. Its
columns follow the product's catalog kinds: a product archiving usage_records gets usage columns,
one archiving think_points gets THINK Points, and so on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from psycopg import sql

from rollover.jobs.config import Target
from rollover.jobs.tables import scope, tables_for

FILE_NAME = "student-data-export.csv"
#: One hash table per aggregated kind, each of a row per student: without room they spill to disk.
SETTINGS = {"work_mem": "128MB"}


class Column(NamedTuple):
    expression: str
    name: str
    zero_if_none: bool  # counts and sums: a student without rows has 0, not an empty cell


# Per data kind: aggregates over that kind's rows of one student.
AGGREGATES: Mapping[str, tuple[Column, ...]] = {
    "usage_records": (
        Column("count(*)", "sessions", True),
        Column("sum(minutes)", "minutes", True),
        Column("sum(lessons_completed)", "lessonsCompleted", True),
        Column("max(session_date)", "lastSession", False),
    ),
    "progress_records": (
        Column("count(*)", "lessonAttempts", True),
        Column("count(*) FILTER (WHERE status = 'passed')", "lessonsPassed", True),
        Column("round(avg(score))", "averageLessonScore", False),
    ),
    "assessment_results": (
        Column("count(*)", "assessments", True),
        Column("round(avg(score))", "averageAssessmentScore", False),
        Column("max(score)", "bestAssessmentScore", False),
    ),
    "pathway_records": (
        Column("count(*)", "pathways", True),
        Column("sum(lessons_assigned)", "pathwayLessonsAssigned", True),
        Column("sum(lessons_completed)", "pathwayLessonsCompleted", True),
    ),
    "student_tokens": (Column("sum(tokens)", "tokens", True),),
    "think_points": (Column("sum(points)", "thinkPoints", True),),
}


def export_query(target: Target) -> sql.Composed:
    """SELECT of the export: the product's student accounts with their roster names and aggregates."""
    (accounts,) = tables_for(target.product, ["student_accounts"])
    outer = [
        sql.SQL("a.user_sourced_id AS {}").format(sql.Identifier("sourcedId")),
        sql.SQL(
            "u.username, u.given_name AS {}, u.family_name AS {}, u.grades AS grade, s.name AS school"
        ).format(sql.Identifier("givenName"), sql.Identifier("familyName")),
    ]
    joins = []
    kinds = [k for k in AGGREGATES if k in target.policy.archive]
    for n, table in enumerate(tables_for(target.product, kinds)):
        alias = sql.Identifier(f"k{n}")
        columns = AGGREGATES[table.kind]
        inner = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.SQL(c.expression), sql.Identifier(c.name)) for c in columns
        )
        joins.append(
            sql.SQL(
                "LEFT JOIN (SELECT user_sourced_id, {inner} FROM {table} WHERE {scope}"
                " GROUP BY user_sourced_id) {alias} ON {alias}.user_sourced_id = a.user_sourced_id"
            ).format(inner=inner, table=table.identifier, scope=scope(target), alias=alias)
        )
        for c in columns:
            value = sql.SQL("{}.{}").format(alias, sql.Identifier(c.name))
            if c.zero_if_none:
                value = sql.SQL("coalesce({}, 0)").format(value)
            outer.append(sql.SQL("{} AS {}").format(value, sql.Identifier(c.name)))
    return sql.SQL(
        "SELECT {outer} FROM {accounts} a JOIN roster.users u ON u.sourced_id = a.user_sourced_id"
        " JOIN roster.orgs s ON s.sourced_id = u.org_sourced_id {joins}"
        " WHERE {scope} ORDER BY a.user_sourced_id"
    ).format(
        outer=sql.SQL(", ").join(outer),
        accounts=accounts.identifier,
        joins=sql.SQL(" ").join(joins),
        scope=scope(target, alias="a"),
    )
