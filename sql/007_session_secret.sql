-- 007_session_secret: a desktop session's VNC password (issue 7).
--
-- The worker makes one for each launch of a desktop session (8 random
-- characters: VNC authentication uses the first 8), stores it here before
-- it starts the container, and hands it to the container in its
-- environment (AXON_VNC_PASSWORD).  While the session runs it is published
-- in the session's Redis hash as connect_password, which only the owner's
-- GET /api/session shows (connect.password); the launch page gives it to
-- noVNC.  When the session ends it is forgotten, here and in Redis.

ALTER TABLE sessions
    ADD COLUMN vnc_password text
        CHECK (vnc_password ~ '^[A-Za-z0-9]{8,64}$');

CREATE FUNCTION sessions_forget_secret() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.vnc_password := NULL;

    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_forget_secret
    BEFORE UPDATE ON sessions
    FOR EACH ROW
    WHEN (NEW.state = 'ended' AND NEW.vnc_password IS NOT NULL)
    EXECUTE FUNCTION sessions_forget_secret();
