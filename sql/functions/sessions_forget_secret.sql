-- A desktop session's VNC password is forgotten when the session ends.
CREATE OR REPLACE FUNCTION sessions_forget_secret() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.vnc_password := NULL;

    RETURN NEW;
END
$$;
