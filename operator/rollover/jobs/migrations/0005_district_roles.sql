-- Row-level security: a database role bound to a district reads, deletes and records only that
-- district's rows, whatever DISTRICT_ID its Job is given (`rollover-job grant` creates such roles).
--
-- The binding is a row of rollover.district_roles, which district roles may read but not write, and
-- the policies compare it with current_user. Nothing a session can set (a GUC, a search_path) moves
-- a role to another district.
--
-- The tables' owner, the administrative role that runs `rollover-job migrate` and `grant` (and that
-- ran every Job before district roles existed), is exempt: row-level security is enabled, not
-- FORCEd. It administers all districts, so it keeps working unchanged and its plans carry no policy.
-- Superusers and BYPASSRLS roles are exempt as PostgreSQL always makes them; `grant` refuses to bind
-- such a role. A role with no binding sees no rows at all.
CREATE TABLE rollover.district_roles (
    role_name   name PRIMARY KEY,
    district_id text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now()
);

-- Every table with a district_id column: the roster, every product table, the retired-ID ledger and
-- the completed resets. The comparison with a one-row subquery is planned as an InitPlan, evaluated
-- once per statement, and leaves the (district_id, ...) indexes usable.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'district_id' AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname IN ('roster', 'imagine_math', 'twig', 'rollover')
          AND c.oid <> 'rollover.district_roles'::regclass
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY district_rows ON %s USING (district_id = ('
            'SELECT d.district_id FROM rollover.district_roles d WHERE d.role_name = current_user))',
            t
        );
    END LOOP;
END
$$;
