-- The trace a request belongs to (W3C trace-context's trace id, 32 hex digits,
-- from the `traceparent` the client sent), as the copy that claimed it was told:
-- one trade is followed from the client through each replica's log lines to its
-- row here (README, "Trace ids").
ALTER TABLE request_log ADD COLUMN trace_id text;

-- What execute_request and claim_request answer: the operation's result and how
-- the request id was found. dedup: 'claimed' (this copy did the work), 'waited'
-- (another copy held the claim when this one arrived; it waited for that copy's
-- answer), 'replayed' (the answer was already stored).
CREATE TYPE executed_request AS (status integer, reason text, message text, body jsonb, dedup text);

-- Failed sign-ins under a key (sql/sign_in_throttle.sql says which keys):
-- the first `free_failures` cost nothing, each later one doubles the wait
-- before the next attempt under that key is even checked.
CREATE TABLE sign_in_throttle (
  key text PRIMARY KEY,
  failures integer NOT NULL,
  last_failure_at timestamptz NOT NULL,
  blocked_until timestamptz NOT NULL
);
CREATE INDEX sign_in_throttle_last_failure_at ON sign_in_throttle (last_failure_at);
