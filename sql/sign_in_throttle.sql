-- Sign-in throttling: the state lives here, so every replica gives the same
-- answer to a guessing loop however its attempts are spread over replicas.
-- The replica names the keys (src/replica/sign-in-throttle.ts): a username from
-- one peer, a username from anywhere, one peer for any username, each with its
-- own number of free failures. Only the copy that claimed a request id runs
-- these, inside that request's transaction, so a request's copies count once.

-- Whole seconds (rounded up) until an attempt under every one of these keys may
-- be checked again; 0 when none is blocked.
CREATE OR REPLACE FUNCTION sign_in_wait(p_keys text[]) RETURNS integer
LANGUAGE sql STABLE AS $$
  SELECT coalesce(ceil(extract(epoch FROM max(blocked_until) - now()))::integer, 0)
  FROM sign_in_throttle
  WHERE key = ANY (p_keys) AND blocked_until > now()
$$;

-- Counts one failed attempt under each key. The p_free[i]-th failure blocks the
-- key for p_base_ms, each later one for twice the last, up to p_cap_ms.
-- Failures are forgotten once a key has had none for p_cap_ms.
CREATE OR REPLACE FUNCTION sign_in_failed(p_keys text[], p_free integer[], p_base_ms bigint, p_cap_ms bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_forget interval := make_interval(secs => p_cap_ms / 1000.0);
  v_failures integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
    INSERT INTO sign_in_throttle AS t (key, failures, last_failure_at, blocked_until)
    VALUES (p_keys[i], 1, now(), now())
    ON CONFLICT (key) DO UPDATE
      SET failures = CASE WHEN t.last_failure_at < now() - v_forget THEN 1 ELSE t.failures + 1 END,
          last_failure_at = now()
    RETURNING failures INTO v_failures;
    IF v_failures >= p_free[i] THEN
      UPDATE sign_in_throttle
      SET blocked_until = now() + make_interval(
        secs => least(p_cap_ms::double precision, p_base_ms * 2.0 ^ least(v_failures - p_free[i], 40)) / 1000.0)
      WHERE key = p_keys[i];
    END IF;
  END LOOP;
END $$;

-- A successful sign-in clears what it proves wrong: the username's failures (a
-- peer's failures stay: signing into one's own account must not reset a guesser).
CREATE OR REPLACE FUNCTION sign_in_succeeded(p_keys text[]) RETURNS void
LANGUAGE sql AS $$ DELETE FROM sign_in_throttle WHERE key = ANY (p_keys) $$;
