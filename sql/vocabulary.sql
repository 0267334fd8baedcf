-- The vocabulary every area shares: limits, times and money as text, and an
-- operation's result.
--
-- The functions in sql/ are applied by migrate() after the migrations, in the
-- order of SQL_FILES (src/common/migrate.ts), all in one transaction: every
-- function of the schema is dropped and these are created again. A file here
-- holds functions only; tables, types and data changes are migrations.

-- The gRPC status codes an operation answers with, by name: grpc_ok(),
-- grpc_not_found() and the others of this list (the numbers of grpc-js's status
-- enum; a test checks each against it), one constant function each, made from
-- the list. An operation's result carries the number, which the replica turns
-- back into the status of that name.
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT * FROM (VALUES ('grpc_ok', 0), ('grpc_not_found', 5), ('grpc_already_exists', 6),
                                 ('grpc_permission_denied', 7), ('grpc_failed_precondition', 9),
                                 ('grpc_unauthenticated', 16)) AS codes (name, code) LOOP
    EXECUTE format('CREATE OR REPLACE FUNCTION %I() RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE '
                   'AS $f$ SELECT %s $f$', c.name, c.code);
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION max_balance_cents() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 100000000000000000::bigint $$;

CREATE OR REPLACE FUNCTION max_shares_held() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 100000000000000000::bigint $$;

-- Declared as volatile as their bodies are, and money_text not STRICT (its CASE
-- is not), so that PostgreSQL inlines them into the calling statement; a LANGUAGE
-- sql function it cannot inline is planned again on every call on PostgreSQL 15.
-- extract(epoch FROM timestamptz) is STABLE.
CREATE OR REPLACE FUNCTION epoch_ms(t timestamptz) RETURNS bigint
LANGUAGE sql STABLE STRICT AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;

-- Cents as decimal dollars with two fractional digits: 12345 -> '123.45'.
CREATE OR REPLACE FUNCTION money_text(cents bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN cents < 0 THEN '-' ELSE '' END
    || (abs(cents) / 100)::text || '.' || lpad((abs(cents) % 100)::text, 2, '0')
$$;

CREATE OR REPLACE FUNCTION op_ok(body jsonb) RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(grpc_ok(), NULL, NULL, body)::op_result $$;

CREATE OR REPLACE FUNCTION op_error(status integer, reason text, message text) RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(status, reason, message, NULL)::op_result $$;

-- One answer for a token that names no live session, whatever its state (never
-- issued, logged out, expired, reaped): the states cannot be told apart for long
-- (Logout ends a session by expiring it; the reaper deletes ended ones) and the
-- caller's remedy is the same (decision 18).
CREATE OR REPLACE FUNCTION session_invalid() RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT op_error(grpc_unauthenticated(), 'SESSION_INVALID', 'the session token is not valid or has expired; log in, then send the request again with a new request id')
$$;
