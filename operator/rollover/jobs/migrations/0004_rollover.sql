-- The rollover's own records: the retired-ID ledger and the completed resets.

-- Every user whose product account a reset deleted. Append-only: IDs are never reused, so no step,
-- and no one by accident, may update, delete or truncate it.
CREATE TABLE rollover.retired_ids (
    district_id text NOT NULL,
    sourced_id  text NOT NULL,
    school_year text NOT NULL,
    product     text NOT NULL,
    reset_date  date NOT NULL,
    retired_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_id, sourced_id, product, school_year)
);

CREATE FUNCTION rollover.refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rollover.retired_ids is append-only: retired user IDs are never forgotten';
END
$$;
CREATE TRIGGER retired_ids_append_only BEFORE UPDATE OR DELETE ON rollover.retired_ids
    FOR EACH STATEMENT EXECUTE FUNCTION rollover.refuse_ledger_change();
CREATE TRIGGER retired_ids_no_truncate BEFORE TRUNCATE ON rollover.retired_ids
    FOR EACH STATEMENT EXECUTE FUNCTION rollover.refuse_ledger_change();

-- One row per completed reset, written in the reset's own transaction: a re-run finds it and
-- deletes nothing.
CREATE TABLE rollover.resets (
    district_id     text NOT NULL,
    school_year     text NOT NULL,
    product         text NOT NULL,
    archive_digest  text NOT NULL,
    deleted         jsonb NOT NULL,
    retired_ids     integer NOT NULL,
    completed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_id, school_year, product)
);
