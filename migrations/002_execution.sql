-- The types of exactly-once execution: an operation's result, the context a
-- request runs in, and an audit event. The functions that use them (execute_request
-- and the operations) live in sql/, applied by migrate() after the migrations;
-- sql/execution.sql says how a request runs exactly once.

CREATE TYPE op_result AS (status integer, reason text, message text, body jsonb);

CREATE TYPE request_context AS (
  request_id uuid,
  user_id bigint,
  username text,
  replica_id text,
  transaction_num bigint
);

-- An audit event of the request being executed; the context supplies server,
-- transaction number, request and user. Operations collect theirs in an array and
-- write them with one statement at the end (write_audit), on every path.
CREATE TYPE audit_event AS (
  event_type text,
  command text,
  symbol text,
  funds_cents bigint,
  action text,
  price_cents bigint,
  quote_server_time_ms bigint,
  cryptokey text,
  filename text,
  error_message text
);
