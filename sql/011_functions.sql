-- 011_functions: the record of sql/functions/NAME.sql.
--
-- From here on the current definition of each function lives in its own
-- file, sql/functions/NAME.sql (CREATE OR REPLACE FUNCTION), and not in
-- the numbered migrations: --migrate applies a file again, after the
-- numbered migrations, whenever its text (sha256) differs from the
-- checksum recorded here.  The definitions in 001..010 stay as they are:
-- they ran on deployed databases, and their checksums are checked.
--
-- A change of a function's arguments or result is still a numbered
-- migration (DROP FUNCTION of the old signature), with the new
-- definition in the function's file; see docs/database.md.

CREATE TABLE axon_schema_functions (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
