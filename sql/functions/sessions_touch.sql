-- What the user sees changed: publish again.  (billed_minutes alone does
-- not count while the session runs: a tick would republish every session
-- every minute; it is published with the next change and at the end.)
-- The WHEN clause keeps the billing tick's updates free of a trigger call.
CREATE OR REPLACE FUNCTION sessions_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.rev := OLD.rev + 1;
    NEW.synced := false;

    RETURN NEW;
END
$$;
