-- The Imagine Math suite's year data. Imagine Math and Imagine Math Facts keep the same shapes, so
-- they share these tables and every row says whose it is (product): one product's reset deletes only
-- its own rows. Every table carries the rollover scope (product, district_id, school_year).
--
-- Rows of an account refer to it by (product, school_year, user_sourced_id) without a foreign key:
-- PostgreSQL checks a referencing key once per deleted account and table (measured: 13 us each, 5.3 s
-- of the 5.5 s it took to delete 100,000 accounts with four referencing tables), and the reset
-- deletes an account's rows in every table of the product in the same transaction anyway.
CREATE SCHEMA imagine_math;

-- Student accounts: one per product, school year and roster user. Returning students get new accounts.
CREATE TABLE imagine_math.student_accounts (
    product         text NOT NULL CHECK (product IN ('imagine-math', 'imagine-math-facts')),
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL REFERENCES roster.users,
    username        text NOT NULL,
    grade_band      text NOT NULL CHECK (grade_band IN ('prek-2', '3+')),
    created_at      timestamptz NOT NULL,
    last_login_at   timestamptz,
    PRIMARY KEY (product, school_year, user_sourced_id)
);
CREATE INDEX student_accounts_scope ON imagine_math.student_accounts (district_id, school_year, product);
CREATE INDEX student_accounts_user ON imagine_math.student_accounts (user_sourced_id);

-- Classrooms: the product's groups, each linked to a roster class (which the product never deletes).
CREATE TABLE imagine_math.classrooms (
    product            text NOT NULL CHECK (product IN ('imagine-math', 'imagine-math-facts')),
    district_id        text NOT NULL,
    school_year        text NOT NULL,
    class_sourced_id   text NOT NULL REFERENCES roster.classes,
    teacher_sourced_id text NOT NULL REFERENCES roster.users,
    name               text NOT NULL,
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (product, class_sourced_id)
);
CREATE INDEX classrooms_scope ON imagine_math.classrooms (district_id, school_year, product);

CREATE TABLE imagine_math.classroom_students (
    product          text NOT NULL,
    district_id      text NOT NULL,
    school_year      text NOT NULL,
    class_sourced_id text NOT NULL,
    user_sourced_id  text NOT NULL,
    added_at         timestamptz NOT NULL,
    PRIMARY KEY (product, class_sourced_id, user_sourced_id),
    FOREIGN KEY (product, class_sourced_id) REFERENCES imagine_math.classrooms
);
CREATE INDEX classroom_students_scope ON imagine_math.classroom_students (district_id, school_year, product);

-- Tokens (PreK-2), THINK Points and avatars (3+): one row per account.
CREATE TABLE imagine_math.student_tokens (
    product         text NOT NULL,
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL,
    tokens          integer NOT NULL CHECK (tokens >= 0),
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (product, school_year, user_sourced_id)
);
CREATE INDEX student_tokens_scope ON imagine_math.student_tokens (district_id, school_year, product);

CREATE TABLE imagine_math.think_points (
    product         text NOT NULL,
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL,
    points          integer NOT NULL CHECK (points >= 0),
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (product, school_year, user_sourced_id)
);
CREATE INDEX think_points_scope ON imagine_math.think_points (district_id, school_year, product);

CREATE TABLE imagine_math.student_avatars (
    product         text NOT NULL,
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL,
    body            text NOT NULL,
    color           text NOT NULL,
    accessory       text,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (product, school_year, user_sourced_id)
);
CREATE INDEX student_avatars_scope ON imagine_math.student_avatars (district_id, school_year, product);

-- Academic data: append-only events, tens of millions of rows per large district-year.
CREATE TABLE imagine_math.assessment_results (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product         text NOT NULL,
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL,
    assessment      text NOT NULL,
    score           integer NOT NULL,
    completed_at    timestamptz NOT NULL
);
CREATE INDEX assessment_results_scope ON imagine_math.assessment_results (district_id, school_year, product);

CREATE TABLE imagine_math.progress_records (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product         text NOT NULL,
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    user_sourced_id text NOT NULL,
    lesson          text NOT NULL,
    status          text NOT NULL CHECK (status IN ('passed', 'not passed', 'in progress')),
    score           integer,
    recorded_at     timestamptz NOT NULL
);
CREATE INDEX progress_records_scope ON imagine_math.progress_records (district_id, school_year, product);

CREATE TABLE imagine_math.pathway_records (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product           text NOT NULL,
    district_id       text NOT NULL,
    school_year       text NOT NULL,
    user_sourced_id   text NOT NULL,
    pathway           text NOT NULL,
    lessons_assigned  integer NOT NULL,
    lessons_completed integer NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX pathway_records_scope ON imagine_math.pathway_records (district_id, school_year, product);

CREATE TABLE imagine_math.usage_records (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product           text NOT NULL,
    district_id       text NOT NULL,
    school_year       text NOT NULL,
    user_sourced_id   text NOT NULL,
    session_date      date NOT NULL,
    minutes           integer NOT NULL CHECK (minutes >= 0),
    lessons_completed integer NOT NULL,
    recorded_at       timestamptz NOT NULL
);
CREATE INDEX usage_records_scope ON imagine_math.usage_records (district_id, school_year, product);
