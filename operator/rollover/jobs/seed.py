"""`rollover-job seed`: a realistic district for demos, tests and benchmarks, generated in the server.

Shape (per --students N): schools of ~600 students (elementary K-5, middle 6-8, high 9-12), sections
of 25 students each with a teacher and classes in math, science, ELA (and social studies from grade
6), plus one administrator per school. Products: every student has an Imagine Math account, students
in K-5 an Imagine Math Facts account, both with classrooms on the math classes; Twig Science has the
science classes with their enrollments and assignments. Year data per student, on average: Imagine
Math 14 usage, 10 progress, 4 assessment and 4 pathway rows (plus tokens for K-2, THINK Points and an
avatar for 3+); Imagine Math Facts 6 usage and 4 progress rows; Twig 4 answers and 1.5 assessment
results: about 42 academic rows per student, 21 million for 500,000 students.

Every value derives from a hash of (--seed, row position), computed by the server: the same
arguments give the same rows, and no row passes through Python.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import psycopg
from psycopg import sql

from rollover.jobs.errors import StepFailed, UsageError

log = logging.getLogger(__name__)
MAX_STUDENTS = 9_999_999  # sourced IDs carry 7 digits
STUDENTS_PER_SCHOOL = 600

# pg_temp.rnd(x, m): a number in [0, m) drawn from the key x. Keys are built as
# ((salt * 10^7 + student) * 100 + n) * 10 + field: unique per table (salt), row (student, n) and field.
_RND = (
    "CREATE FUNCTION pg_temp.rnd(x bigint, m integer) RETURNS integer"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS {body}"
)
_GIVEN = (
    "ARRAY['Ava','Liam','Mia','Noah','Zoe','Ethan','Sofia','Mateo',"
    "'Aria','Lucas','Maya','Elijah','Nora','Kai','Ivy','Leo']"
)
_FAMILY = (
    "ARRAY['Garcia','Smith','Nguyen','Johnson','Patel','Brown','Kim','Lopez',"
    "'Davis','Chen','Wilson','Martinez','Lee','Clark','Young','Hall']"
)
_GRADE_CODE = "CASE {g} WHEN 0 THEN 'KG' ELSE lpad({g}::text, 2, '0') END"


def _key(salt: int | str, student: str, n: str, field: int) -> str:
    return f"((({salt}::bigint * 10000000 + {student}) * 100 + {n}) * 10 + {field})"


def _rnd(salt: int | str, m: int | str, *, student: str = "s.i", n: str = "0", field: int = 0) -> str:
    """SQL for a number in [0, m) drawn for this table (salt), row (student, n) and field."""
    return f"pg_temp.rnd({_key(salt, student, n, field)}, {m})"


def _day(salt: int | str, *, student: str = "s.i", n: str = "g.n") -> str:
    """SQL for a timestamp within the school year's first 270 days, during school hours."""
    day = _rnd(salt, 270, student=student, n=n, field=8)
    second = _rnd(salt, 28800, student=student, n=n, field=9)
    return f"(%(start)s::date + {day} + make_interval(secs => 28800 + {second}))::timestamptz"


_ROSTER = [
    """INSERT INTO roster.orgs (sourced_id, district_id, type, name, identifier)
    VALUES (%(d)s, %(d)s, 'district', %(d)s || ' School District', %(d)s)""",
    """INSERT INTO roster.orgs (sourced_id, district_id, type, name, identifier, parent_sourced_id)
    SELECT %(d)s || '-sch-' || lpad(k::text, 4, '0'), %(d)s, 'school',
           (ARRAY['Lincoln','Jefferson','Roosevelt','Franklin','Hamilton','Madison','Adams','Jackson'])
               [1 + mod((k - 1) / 3, 8)]
           || ' ' || (ARRAY['Elementary','Middle','High'])[1 + mod(k - 1, 3)] || ' School'
           || CASE WHEN k > 24 THEN ' ' || ((k - 1) / 24 + 1) ELSE '' END,
           lpad(k::text, 4, '0'), %(d)s
    FROM generate_series(1, %(schools)s) k""",
    """INSERT INTO roster.academic_sessions
        (sourced_id, district_id, title, type, school_year, start_date, end_date)
    VALUES (%(d)s || '-' || %(y)s, %(d)s, 'School Year ' || %(y)s, 'schoolYear', %(y)s,
            %(start)s, %(end)s)""",
    # Students: a grade (0 = KG), a school of the grade's band (school k has band (k - 1) mod 3), and a
    # section: 25 students of one school and grade.
    f"""CREATE TEMP TABLE seed_students ON COMMIT DROP AS
    SELECT i, sourced_id, grade, school,
           dense_rank() OVER (ORDER BY school, grade, (rn - 1) / 25)::int AS section
    FROM (SELECT *, row_number() OVER (PARTITION BY school, grade ORDER BY i) AS rn
          FROM (SELECT i, %(d)s || '-stu-' || lpad(i::text, 7, '0') AS sourced_id, grade,
                       band + 1 + 3 * mod(i, (%(schools)s - 1 - band) / 3 + 1) AS school
                FROM (SELECT i, grade, CASE WHEN grade <= 5 THEN 0 WHEN grade <= 8 THEN 1 ELSE 2 END AS band
                      FROM (SELECT s.i, {_rnd(1, 13)} AS grade
                            FROM generate_series(1, %(n)s) AS s(i)) g) b) p) r""",
    """CREATE TEMP TABLE seed_sections ON COMMIT DROP AS
    SELECT DISTINCT section, school, grade,
           %(d)s || '-tch-' || lpad(section::text, 6, '0') AS teacher,
           %(d)s || '-sch-' || lpad(school::text, 4, '0') AS school_id
    FROM seed_students""",
    f"""INSERT INTO roster.users
        (sourced_id, district_id, role, username, given_name, family_name, grades, org_sourced_id)
    SELECT s.sourced_id, %(d)s, 'student', lower(gn || '.' || fn) || s.i, gn, fn,
           {_GRADE_CODE.format(g="s.grade")}, %(d)s || '-sch-' || lpad(s.school::text, 4, '0')
    FROM seed_students s,
         LATERAL (SELECT ({_GIVEN})[1 + {_rnd(2, 16)}] AS gn,
                         ({_FAMILY})[1 + {_rnd(2, 16, field=1)}] AS fn) names""",
    f"""INSERT INTO roster.users
        (sourced_id, district_id, role, username, given_name, family_name, email, org_sourced_id)
    SELECT teacher, %(d)s, 'teacher', 't.' || lower(fn) || section, gn, fn,
           't.' || lower(fn) || section || '@' || %(d)s || '.example.org', school_id
    FROM seed_sections s,
         LATERAL (SELECT ({_GIVEN})[1 + {_rnd(3, 16, student="s.section")}] AS gn,
                         ({_FAMILY})[1 + {_rnd(3, 16, student="s.section", field=1)}] AS fn) names""",
    """INSERT INTO roster.users
        (sourced_id, district_id, role, username, given_name, family_name, email, org_sourced_id)
    SELECT %(d)s || '-adm-' || lpad(k::text, 4, '0'), %(d)s, 'administrator', 'admin' || k,
           'Pat', 'Principal' || k, 'admin' || k || '@' || %(d)s || '.example.org',
           %(d)s || '-sch-' || lpad(k::text, 4, '0')
    FROM generate_series(1, %(schools)s) k""",
    # Classes: math, science and ELA per section, and social studies from grade 6.
    """CREATE TEMP TABLE seed_classes ON COMMIT DROP AS
    SELECT s.section, s.grade, s.teacher, s.school_id, subject,
           %(d)s || '-cls-' || %(y)s || '-' || lpad(s.section::text, 6, '0') || '-' || subject AS sourced_id
    FROM seed_sections s,
         unnest(CASE WHEN s.grade <= 5 THEN ARRAY['math','science','ela']
                     ELSE ARRAY['math','science','ela','social-studies'] END) AS subject""",
    f"""INSERT INTO roster.classes (sourced_id, district_id, school_year, title, class_code, subject, grades,
                                   school_sourced_id, term_sourced_id)
    SELECT sourced_id, %(d)s, %(y)s,
           initcap(replace(subject, '-', ' ')) || CASE grade WHEN 0 THEN ' K' ELSE ' ' || grade END
           || '-' || section,
           upper(left(subject, 3)) || '-' || section, subject, {_GRADE_CODE.format(g="grade")},
           school_id, %(d)s || '-' || %(y)s
    FROM seed_classes""",
    """INSERT INTO roster.enrollments
        (sourced_id, district_id, school_year, class_sourced_id, user_sourced_id, role, is_primary)
    SELECT c.sourced_id || ':' || s.sourced_id, %(d)s, %(y)s, c.sourced_id, s.sourced_id, 'student', false
    FROM seed_classes c JOIN seed_students s USING (section)
    UNION ALL
    SELECT c.sourced_id || ':' || c.teacher, %(d)s, %(y)s, c.sourced_id, c.teacher, 'teacher', true
    FROM seed_classes c""",
]

# Imagine Math (every grade) and Imagine Math Facts (K-5): the same tables, rows tagged with the product.
_SUITE = "(VALUES ('imagine-math', 12), ('imagine-math-facts', 5)) AS p(product, top_grade)"
_IMAGINE_MATH = [
    f"""INSERT INTO imagine_math.student_accounts (product, district_id, school_year, user_sourced_id,
                                                  username, grade_band, created_at, last_login_at)
    SELECT p.product, %(d)s, %(y)s, s.sourced_id, u.username,
           CASE WHEN s.grade <= 2 THEN 'prek-2' ELSE '3+' END,
           %(start)s::timestamptz + make_interval(days => {_rnd(4, 20)}), {_day(5, n="0")}
    FROM seed_students s JOIN roster.users u ON u.sourced_id = s.sourced_id CROSS JOIN {_SUITE}
    WHERE s.grade <= p.top_grade""",
    f"""INSERT INTO imagine_math.student_tokens
        (product, district_id, school_year, user_sourced_id, tokens, updated_at)
    SELECT 'imagine-math', %(d)s, %(y)s, s.sourced_id, {_rnd(6, 500)}, {_day(6, n="0")}
    FROM seed_students s WHERE s.grade <= 2""",
    f"""INSERT INTO imagine_math.think_points
        (product, district_id, school_year, user_sourced_id, points, updated_at)
    SELECT 'imagine-math', %(d)s, %(y)s, s.sourced_id, {_rnd(7, 20000)}, {_day(7, n="0")}
    FROM seed_students s WHERE s.grade >= 3""",
    f"""INSERT INTO imagine_math.student_avatars
        (product, district_id, school_year, user_sourced_id, body, color, accessory, updated_at)
    SELECT 'imagine-math', %(d)s, %(y)s, s.sourced_id,
           (ARRAY['robot','astronaut','explorer','scientist'])[1 + {_rnd(8, 4)}],
           (ARRAY['teal','orange','purple','green','blue'])[1 + {_rnd(8, 5, field=1)}],
           (ARRAY[NULL,'cape','hat','glasses'])[1 + {_rnd(8, 4, field=2)}], {_day(8, n="0")}
    FROM seed_students s WHERE s.grade >= 3""",
    f"""INSERT INTO imagine_math.classrooms
        (product, district_id, school_year, class_sourced_id, teacher_sourced_id, name, created_at)
    SELECT p.product, %(d)s, %(y)s, c.sourced_id, c.teacher,
           'Math ' || CASE c.grade WHEN 0 THEN 'K' ELSE c.grade::text END || '-' || c.section,
           %(start)s::timestamptz + make_interval(days => {_rnd(9, 10, student="c.section")})
    FROM seed_classes c CROSS JOIN {_SUITE}
    WHERE c.subject = 'math' AND c.grade <= p.top_grade""",
    """INSERT INTO imagine_math.classroom_students
        (product, district_id, school_year, class_sourced_id, user_sourced_id, added_at)
    SELECT r.product, %(d)s, %(y)s, r.class_sourced_id, s.sourced_id, r.created_at
    FROM imagine_math.classrooms r
    JOIN seed_classes c ON c.sourced_id = r.class_sourced_id
    JOIN seed_students s ON s.section = c.section
    WHERE r.district_id = %(d)s AND r.school_year = %(y)s""",
    # Per product: rows per student = base + a draw below spread; salt keeps the two products' draws apart.
    f"""INSERT INTO imagine_math.usage_records (product, district_id, school_year, user_sourced_id,
                                               session_date, minutes, lessons_completed, recorded_at)
    SELECT p.product, %(d)s, %(y)s, s.sourced_id, t::date,
           5 + {_rnd("p.salt", 40, n="g.n")}, {_rnd("p.salt", 4, n="g.n", field=1)}, t
    FROM seed_students s
    CROSS JOIN (VALUES ('imagine-math', 12, 10, 9, 10), ('imagine-math-facts', 5, 4, 5, 11))
        AS p(product, top_grade, base, spread, salt)
    CROSS JOIN LATERAL generate_series(1, p.base + {_rnd("p.salt", "p.spread", field=7)}) AS g(n)
    CROSS JOIN LATERAL (SELECT {_day("p.salt")} AS t) d
    WHERE s.grade <= p.top_grade""",
    f"""INSERT INTO imagine_math.progress_records
        (product, district_id, school_year, user_sourced_id, lesson, status, score, recorded_at)
    SELECT p.product, %(d)s, %(y)s, s.sourced_id, p.prefix || (1 + {_rnd("p.salt", 300, n="g.n")}),
           CASE WHEN st.v < 6 THEN 'passed' WHEN st.v < 8 THEN 'not passed' ELSE 'in progress' END,
           CASE WHEN st.v < 8 THEN 40 + {_rnd("p.salt", 61, n="g.n", field=2)} END, {_day("p.salt")}
    FROM seed_students s
    CROSS JOIN (VALUES ('imagine-math', 12, 6, 9, 13, 'Lesson '),
                       ('imagine-math-facts', 5, 2, 5, 14, 'Fact '))
        AS p(product, top_grade, base, spread, salt, prefix)
    CROSS JOIN LATERAL generate_series(1, p.base + {_rnd("p.salt", "p.spread", field=7)}) AS g(n)
    CROSS JOIN LATERAL (SELECT {_rnd("p.salt", 10, n="g.n", field=1)} AS v) st
    WHERE s.grade <= p.top_grade""",
    f"""INSERT INTO imagine_math.assessment_results
        (product, district_id, school_year, user_sourced_id, assessment, score, completed_at)
    SELECT 'imagine-math', %(d)s, %(y)s, s.sourced_id,
           (ARRAY['Beginning of Year','Middle of Year','End of Year','Unit Check','Unit Check'])[g.n],
           20 + {_rnd(15, 81, n="g.n")}, {_day(15)}
    FROM seed_students s CROSS JOIN LATERAL generate_series(1, 3 + {_rnd(15, 3, field=7)}) AS g(n)""",
    f"""INSERT INTO imagine_math.pathway_records (product, district_id, school_year, user_sourced_id,
                                                 pathway, lessons_assigned, lessons_completed, updated_at)
    SELECT 'imagine-math', %(d)s, %(y)s, s.sourced_id,
           'Grade ' || CASE s.grade WHEN 0 THEN 'K' ELSE s.grade::text END || ' Pathway ' || g.n,
           20 + {_rnd(17, 40, n="g.n")}, {_rnd(17, 20, n="g.n", field=1)}, {_day(17)}
    FROM seed_students s CROSS JOIN LATERAL generate_series(1, 2 + {_rnd(17, 5, field=7)}) AS g(n)""",
]

_TWIG = [
    f"""INSERT INTO twig.classes (product, district_id, school_year, class_sourced_id, teacher_sourced_id,
                                title, grade, created_at)
    SELECT 'twig-science', %(d)s, %(y)s, c.sourced_id, c.teacher,
           'Science ' || CASE c.grade WHEN 0 THEN 'K' ELSE c.grade::text END || '-' || c.section,
           {_GRADE_CODE.format(g="c.grade")},
           %(start)s::timestamptz + make_interval(days => {_rnd(19, 10, student="c.section")})
    FROM seed_classes c WHERE c.subject = 'science'""",
    """INSERT INTO twig.enrollments
        (product, district_id, school_year, class_sourced_id, user_sourced_id, role, enrolled_at)
    SELECT 'twig-science', %(d)s, %(y)s, c.sourced_id, s.sourced_id, 'student', %(start)s::timestamptz
    FROM seed_classes c JOIN seed_students s USING (section) WHERE c.subject = 'science'
    UNION ALL
    SELECT 'twig-science', %(d)s, %(y)s, c.sourced_id, c.teacher, 'teacher', %(start)s::timestamptz
    FROM seed_classes c WHERE c.subject = 'science'""",
    f"""INSERT INTO twig.assignments (product, district_id, school_year, class_sourced_id, activity_id, title,
                                    assigned_at, due_at)
    SELECT 'twig-science', %(d)s, %(y)s, c.sourced_id, 'act-' || c.grade || '-' || g.n,
           'Unit ' || g.n || ' investigation', t, t + interval '7 days'
    FROM seed_classes c CROSS JOIN generate_series(1, 8) AS g(n)
    CROSS JOIN LATERAL (SELECT {_day(20, student="c.section")} AS t) d
    WHERE c.subject = 'science'""",
    f"""INSERT INTO twig.student_answers
        (product, district_id, school_year, user_sourced_id, activity_id, answer, answered_at)
    SELECT 'twig-science', %(d)s, %(y)s, s.sourced_id,
           'act-' || s.grade || '-' || (1 + {_rnd(21, 8, n="g.n")}),
           (ARRAY['A','B','C','D','The plant grows toward the light.','Energy is transferred.'])
               [1 + {_rnd(21, 6, n="g.n", field=1)}],
           {_day(21)}
    FROM seed_students s CROSS JOIN LATERAL generate_series(1, 2 + {_rnd(21, 5, field=7)}) AS g(n)""",
    f"""INSERT INTO twig.assessment_results
        (product, district_id, school_year, user_sourced_id, assessment, score, max_score, completed_at)
    SELECT 'twig-science', %(d)s, %(y)s, s.sourced_id, 'Unit ' || g.n || ' assessment',
           {_rnd(23, 21, n="g.n")}, 20, {_day(23)}
    FROM seed_students s CROSS JOIN LATERAL generate_series(1, 1 + {_rnd(23, 2, field=7)}) AS g(n)""",
]

STATEMENTS = (*_ROSTER, *_IMAGINE_MATH, *_TWIG)


def seed(
    conn: psycopg.Connection[Any], *, district_id: str, school_year: str, students: int, seed: int
) -> dict[str, Any]:
    """Generate the district; StepFailed if it exists already. Returns the rows added per table."""
    if not 1 <= students <= MAX_STUDENTS:
        raise UsageError(f"--students must be between 1 and {MAX_STUDENTS}")
    if conn.execute("SELECT 1 FROM roster.orgs WHERE district_id = %s LIMIT 1", (district_id,)).fetchone():
        raise StepFailed(
            f"district {district_id} already exists in the roster store; seed another district ID"
        )
    first = int(school_year[:4])
    params = {
        "d": district_id,
        "y": school_year,
        "n": students,
        "schools": max(3, -(-students // STUDENTS_PER_SCHOOL)),
        "start": f"{first}-08-15",
        "end": f"{first + 1}-06-10",
    }
    started = time.monotonic()
    rows: dict[str, int] = {}
    with conn.transaction():
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        body = f"SELECT mod(hashint8extended(x, {int(seed)}) & 2147483647, m)::integer"
        conn.execute(sql.SQL(_RND).format(body=sql.Literal(body)))
        for statement in STATEMENTS:
            cur = conn.execute(statement, params)
            inserted = re.match(r"INSERT INTO (\S+)", statement)
            if inserted:
                table = inserted.group(1)
                rows[table] = rows.get(table, 0) + cur.rowcount
                log.info("seed %s: %d rows (%.0f s)", table, cur.rowcount, time.monotonic() - started)
    for table in rows:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*table.split("."))))
    return {
        "district": district_id,
        "schoolYear": school_year,
        "students": students,
        "rows": rows,
    }
