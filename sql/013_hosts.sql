-- 013_hosts: each GPU host's health, for billing.
--
-- The reconcile sweep writes a host's row each time it asks the host for
-- its containers (axon-worker/sched_reconcile.c): confirmed_at, when a
-- list that answered was asked for (every running session of the host
-- that was in it was running then), and down, whether the last ask
-- failed.  While a host is down, axon_billing_tick bills its sessions no
-- minute that begins after confirmed_at: billing stops at the last minute
-- confirmed running.  Back up, the sweep ends the sessions whose
-- containers are gone before it clears down (their billing stays where it
-- stopped); the others ran throughout, and their minutes are billed.
-- Several workers may drive one host: the latest sweep wins.

CREATE TABLE hosts (
    name          text PRIMARY KEY,
    down          boolean NOT NULL DEFAULT false,
    confirmed_at  timestamptz,
    changed_at    timestamptz NOT NULL DEFAULT now()
);
