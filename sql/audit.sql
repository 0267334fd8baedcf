-- Audit events: written in the transaction of the change they describe, in the
-- columns of the SEng 468 log (logfile.xsd).

CREATE OR REPLACE FUNCTION ev_command(p_command text, p_symbol text DEFAULT NULL, p_funds bigint DEFAULT NULL,
                           p_filename text DEFAULT NULL) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('userCommand', p_command, p_symbol, p_funds, NULL, NULL, NULL, NULL, p_filename, NULL)::audit_event
$$;

CREATE OR REPLACE FUNCTION ev_quote(p_symbol text, p_price bigint, p_quote_time bigint, p_cryptokey text) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('quoteServer', NULL, p_symbol, NULL, NULL, p_price, p_quote_time, p_cryptokey, NULL, NULL)::audit_event
$$;

CREATE OR REPLACE FUNCTION ev_account(p_action text, p_funds bigint) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('accountTransaction', NULL, NULL, p_funds, p_action, NULL, NULL, NULL, NULL, NULL)::audit_event
$$;

CREATE OR REPLACE FUNCTION ev_error(p_command text, p_symbol text, p_funds bigint, p_message text) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('errorEvent', p_command, p_symbol, p_funds, NULL, NULL, NULL, NULL, NULL, p_message)::audit_event
$$;

CREATE OR REPLACE FUNCTION ev_system(p_command text, p_symbol text, p_funds bigint) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('systemEvent', p_command, p_symbol, p_funds, NULL, NULL, NULL, NULL, NULL, NULL)::audit_event
$$;

-- PL/pgSQL, as are the other small functions that query a table (shares_held,
-- holding_json, result_body, session_user_id): PostgreSQL cannot inline a
-- LANGUAGE sql function whose body reads a table, and before version 18 plans
-- such a body again on every call, where PL/pgSQL keeps its plans for the session.
CREATE OR REPLACE FUNCTION write_audit(ctx request_context, p_events audit_event[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_events (
    event_type, server, transaction_num, request_id, user_id, username, command, symbol, funds_cents,
    action, price_cents, quote_server_time_ms, cryptokey, filename, error_message
  )
  SELECT e.event_type, ctx.replica_id, ctx.transaction_num, ctx.request_id, ctx.user_id, ctx.username, e.command,
         e.symbol, e.funds_cents, e.action, e.price_cents, e.quote_server_time_ms, e.cryptokey, e.filename,
         e.error_message
  FROM unnest(p_events) WITH ORDINALITY AS e
  ORDER BY e.ordinality;
END $$;

-- A refused command: the request's events so far and its errorEvent, and the
-- error every copy of the request gets.
CREATE OR REPLACE FUNCTION refuse(
  ctx request_context, p_events audit_event[], p_command text, p_symbol text, p_funds bigint,
  p_status integer, p_reason text, p_message text
) RETURNS op_result
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM write_audit(ctx, p_events || ev_error(p_command, p_symbol, p_funds, p_message));
  RETURN op_error(p_status, p_reason, p_message);
END $$;
