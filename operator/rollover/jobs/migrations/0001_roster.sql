-- The district roster, modelled on OneRoster 1.1: organizations, academic sessions, users, classes
-- and enrollments, as the rostering sync (SIS, Clever, ClassLink, CSV) delivers them.
-- Shared by every product. No rollover step deletes from these tables: organizations and educators
-- are kept year over year, and classes and enrollments are per school year (school_year column).
CREATE SCHEMA roster;

CREATE TABLE roster.orgs (
    sourced_id         text PRIMARY KEY,
    district_id        text NOT NULL,
    type               text NOT NULL CHECK (type IN ('district', 'school')),
    name               text NOT NULL,
    identifier         text,
    parent_sourced_id  text REFERENCES roster.orgs,
    date_last_modified timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orgs_district ON roster.orgs (district_id);

CREATE TABLE roster.academic_sessions (
    sourced_id         text PRIMARY KEY,
    district_id        text NOT NULL,
    title              text NOT NULL,
    type               text NOT NULL CHECK (type IN ('schoolYear', 'term', 'semester', 'gradingPeriod')),
    school_year        text NOT NULL CHECK (school_year ~ '^[0-9]{4}-[0-9]{4}$'),
    start_date         date NOT NULL,
    end_date           date NOT NULL,
    parent_sourced_id  text REFERENCES roster.academic_sessions,
    date_last_modified timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX academic_sessions_district ON roster.academic_sessions (district_id, school_year);

CREATE TABLE roster.users (
    sourced_id         text PRIMARY KEY,
    district_id        text NOT NULL,
    role               text NOT NULL CHECK (role IN ('student', 'teacher', 'administrator')),
    username           text NOT NULL,
    given_name         text NOT NULL,
    family_name        text NOT NULL,
    email              text,
    grades             text,  -- OneRoster grade codes, e.g. KG, 03
    org_sourced_id     text NOT NULL REFERENCES roster.orgs,
    enabled_user       boolean NOT NULL DEFAULT true,
    date_last_modified timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_district ON roster.users (district_id, role);

CREATE TABLE roster.classes (
    sourced_id         text PRIMARY KEY,
    district_id        text NOT NULL,
    school_year        text NOT NULL,
    title              text NOT NULL,
    class_code         text,
    subject            text NOT NULL,
    grades             text,
    school_sourced_id  text NOT NULL REFERENCES roster.orgs,
    term_sourced_id    text NOT NULL REFERENCES roster.academic_sessions,
    date_last_modified timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX classes_district ON roster.classes (district_id, school_year);

CREATE TABLE roster.enrollments (
    sourced_id         text PRIMARY KEY,
    district_id        text NOT NULL,
    school_year        text NOT NULL,
    class_sourced_id   text NOT NULL REFERENCES roster.classes,
    user_sourced_id    text NOT NULL REFERENCES roster.users,
    role               text NOT NULL CHECK (role IN ('student', 'teacher', 'administrator')),
    is_primary         boolean NOT NULL DEFAULT false,
    date_last_modified timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrollments_district ON roster.enrollments (district_id, school_year);
CREATE INDEX enrollments_class ON roster.enrollments (class_sourced_id);
CREATE INDEX enrollments_user ON roster.enrollments (user_sourced_id);
