-- Twig Science's year data. Its classes and enrollments are the product's own copies of roster
-- classes (archived and removed at rollover); student answers are tied to activities, not to a
-- school year, and assessment results stay available: both are archived and kept.
CREATE SCHEMA twig;

CREATE TABLE twig.classes (
    product            text NOT NULL CHECK (product = 'twig-science'),
    district_id        text NOT NULL,
    school_year        text NOT NULL,
    class_sourced_id   text PRIMARY KEY REFERENCES roster.classes,
    teacher_sourced_id text NOT NULL REFERENCES roster.users,
    title              text NOT NULL,
    grade              text NOT NULL,
    created_at         timestamptz NOT NULL
);
CREATE INDEX classes_scope ON twig.classes (district_id, school_year, product);

CREATE TABLE twig.enrollments (
    product          text NOT NULL CHECK (product = 'twig-science'),
    district_id      text NOT NULL,
    school_year      text NOT NULL,
    class_sourced_id text NOT NULL REFERENCES twig.classes,
    user_sourced_id  text NOT NULL REFERENCES roster.users,
    role             text NOT NULL CHECK (role IN ('student', 'teacher')),
    enrolled_at      timestamptz NOT NULL,
    PRIMARY KEY (class_sourced_id, user_sourced_id)
);
CREATE INDEX enrollments_scope ON twig.enrollments (district_id, school_year, product);

CREATE TABLE twig.assignments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product          text NOT NULL CHECK (product = 'twig-science'),
    district_id      text NOT NULL,
    school_year      text NOT NULL,
    class_sourced_id text NOT NULL REFERENCES twig.classes,
    activity_id      text NOT NULL,
    title            text NOT NULL,
    assigned_at      timestamptz NOT NULL,
    due_at           timestamptz
);
CREATE INDEX assignments_scope ON twig.assignments (district_id, school_year, product);
CREATE INDEX assignments_class ON twig.assignments (class_sourced_id);

-- Answers and results: append-only events, like Imagine Math's academic data (no foreign keys, for
-- the same reason). school_year is the year of submission: the rollover scope, not a product rule.
CREATE TABLE twig.student_answers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product         text NOT NULL CHECK (product = 'twig-science'),
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL,
    activity_id     text NOT NULL,
    answer          text NOT NULL,
    answered_at     timestamptz NOT NULL
);
CREATE INDEX student_answers_scope ON twig.student_answers (district_id, school_year, product);

CREATE TABLE twig.assessment_results (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product         text NOT NULL CHECK (product = 'twig-science'),
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL,
    assessment      text NOT NULL,
    score           integer NOT NULL,
    max_score       integer NOT NULL,
    completed_at    timestamptz NOT NULL
);
CREATE INDEX assessment_results_scope ON twig.assessment_results (district_id, school_year, product);
