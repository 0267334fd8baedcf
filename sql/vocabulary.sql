-- The vocabulary every area shares: limits, times and money as text, and an
-- operation's result.
--
-- The functions in sql/ are applied by migrate() after the migrations, in the
-- order of SQL_FILES (src/common/migrate.ts), all in one transaction: every
-- function of the schema is dropped and these are created again. A file here
-- holds functions only; tables, types and data changes are migrations.

CREATE OR REPLACE FUNCTION max_balance_cents() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 100000000000000000::bigint $$;

CREATE OR REPLACE FUNCTION max_shares_held() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 100000000000000000::bigint $$;

CREATE OR REPLACE FUNCTION epoch_ms(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;

-- Cents as decimal dollars with two fractional digits: 12345 -> '123.45'.
CREATE OR REPLACE FUNCTION money_text(cents bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN cents < 0 THEN '-' ELSE '' END
    || (abs(cents) / 100)::text || '.' || lpad((abs(cents) % 100)::text, 2, '0')
$$;

CREATE OR REPLACE FUNCTION op_ok(body jsonb) RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(0, NULL, NULL, body)::op_result $$;

CREATE OR REPLACE FUNCTION op_error(status integer, reason text, message text) RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(status, reason, message, NULL)::op_result $$;
