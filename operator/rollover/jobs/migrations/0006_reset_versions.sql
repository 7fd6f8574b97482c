-- Which rollover-job ran each reset ("rollover-job 1.4.0", as manifests name the archive's), so that the
-- certificate of deletion states every version that ran: the archive's, the reset's and its own.
-- Resets recorded before this migration keep NULL (not recorded). Adding a column leaves the table's
-- row-level security and its district_rows policy (migration 0005) as they are, and the table-level
-- INSERT grants of district roles cover it. IF NOT EXISTS: applying it by hand first does no harm.
ALTER TABLE rollover.resets ADD COLUMN IF NOT EXISTS reset_by text;
