-- Exactly-once execution and the trading operations.
--
-- A replica runs every mutating request as ONE statement:
--   SELECT * FROM execute_request(request_id, op, token_hash, params, extra, strategy, replica)
-- so claiming the request id, doing the work, writing its audit events and storing
-- the response commit together or not at all, in one round trip. A replica killed
-- at any instruction leaves either nothing or the whole request behind.
--
-- Operations decide every refusal before their first write, so an application
-- error (which is stored and returned to every copy) never leaves a partial effect.

CREATE TYPE op_result AS (status integer, reason text, message text, body jsonb);

CREATE TYPE request_context AS (
  request_id uuid,
  user_id bigint,
  username text,
  replica_id text,
  transaction_num bigint
);

CREATE FUNCTION max_balance_cents() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 100000000000000000::bigint $$;

CREATE FUNCTION max_shares_held() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 100000000000000000::bigint $$;

-- Shares of a symbol a user holds, reserved or not.
CREATE FUNCTION shares_held(p_user bigint, p_symbol text) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT shares + reserved_shares FROM holdings WHERE user_id = p_user AND symbol = p_symbol), 0)
$$;

CREATE FUNCTION epoch_ms(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;

-- Cents as decimal dollars with two fractional digits: 12345 -> '123.45'.
CREATE FUNCTION money_text(cents bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN cents < 0 THEN '-' ELSE '' END
    || (abs(cents) / 100)::text || '.' || lpad((abs(cents) % 100)::text, 2, '0')
$$;

CREATE FUNCTION op_ok(body jsonb) RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(0, NULL, NULL, body)::op_result $$;

CREATE FUNCTION op_error(status integer, reason text, message text) RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(status, reason, message, NULL)::op_result $$;

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

CREATE FUNCTION ev_command(p_command text, p_symbol text DEFAULT NULL, p_funds bigint DEFAULT NULL,
                           p_filename text DEFAULT NULL) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('userCommand', p_command, p_symbol, p_funds, NULL, NULL, NULL, NULL, p_filename, NULL)::audit_event
$$;

CREATE FUNCTION ev_quote(p_symbol text, p_price bigint, p_quote_time bigint, p_cryptokey text) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('quoteServer', NULL, p_symbol, NULL, NULL, p_price, p_quote_time, p_cryptokey, NULL, NULL)::audit_event
$$;

CREATE FUNCTION ev_account(p_action text, p_funds bigint) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('accountTransaction', NULL, NULL, p_funds, p_action, NULL, NULL, NULL, NULL, NULL)::audit_event
$$;

CREATE FUNCTION ev_error(p_command text, p_symbol text, p_funds bigint, p_message text) RETURNS audit_event
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('errorEvent', p_command, p_symbol, p_funds, NULL, NULL, NULL, NULL, NULL, p_message)::audit_event
$$;

CREATE FUNCTION write_audit(ctx request_context, p_events audit_event[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO audit_events (
    event_type, server, transaction_num, request_id, user_id, username, command, symbol, funds_cents,
    action, price_cents, quote_server_time_ms, cryptokey, filename, error_message
  )
  SELECT e.event_type, ctx.replica_id, ctx.transaction_num, ctx.request_id, ctx.user_id, ctx.username, e.command,
         e.symbol, e.funds_cents, e.action, e.price_cents, e.quote_server_time_ms, e.cryptokey, e.filename,
         e.error_message
  FROM unnest(p_events) WITH ORDINALITY AS e
  ORDER BY e.ordinality
$$;

-- A refused command: the request's events so far and its errorEvent, and the
-- error every copy of the request gets.
CREATE FUNCTION refuse(
  ctx request_context, p_events audit_event[], p_command text, p_symbol text, p_funds bigint,
  p_status integer, p_reason text, p_message text
) RETURNS op_result
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM write_audit(ctx, p_events || ev_error(p_command, p_symbol, p_funds, p_message));
  RETURN op_error(p_status, p_reason, p_message);
END $$;

CREATE FUNCTION account_body(p_cash bigint, p_reserved bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('cash', money_text(p_cash), 'reserved_cash', money_text(p_reserved))
$$;

CREATE FUNCTION trade_json(t trades) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', t.id::text,
    'request_id', t.request_id::text,
    'symbol', t.symbol,
    'side', CASE t.side WHEN 'buy' THEN 'SIDE_BUY' ELSE 'SIDE_SELL' END,
    'shares', t.shares::text,
    'price', money_text(t.price_cents),
    'total', money_text(t.total_cents),
    'executed_at_ms', epoch_ms(t.executed_at)::text,
    'replica_id', t.replica_id
  )
$$;

-- ---------------------------------------------------------------------------
-- Operations. Each takes the request context and the request's parameters and
-- returns the response; params carry money as integer cents in JSON strings.

CREATE FUNCTION op_register(ctx request_context, p jsonb, e jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO users (username, password_params, password_salt, password_hash)
  VALUES (p ->> 'username', e ->> 'password_params', decode(e ->> 'password_salt', 'base64'),
          decode(e ->> 'password_hash', 'base64'))
  ON CONFLICT (username) DO NOTHING
  RETURNING id INTO v_id;
  IF NOT FOUND THEN
    RETURN op_error(6, 'USERNAME_TAKEN', format('the username %s is already registered', p ->> 'username'));
  END IF;
  INSERT INTO accounts (user_id) VALUES (v_id);
  RETURN op_ok(jsonb_build_object('user_id', v_id::text, 'username', p ->> 'username'));
END $$;

-- The client chose the session's token and every copy carries it; only its hash
-- (p.token_hash, fingerprinted) reaches the database, and the stored response
-- holds no token: the replica adds the request's own to every copy's answer.
CREATE FUNCTION token_taken() RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT op_error(6, 'SESSION_TOKEN_TAKEN', 'this session token is already in use; send a new random one')
$$;

CREATE FUNCTION op_login(ctx request_context, p jsonb, e jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_expires timestamptz := now() + make_interval(secs => (e ->> 'ttl_seconds')::double precision);
BEGIN
  INSERT INTO sessions (token_hash, user_id, expires_at)
  VALUES (decode(p ->> 'token_hash', 'base64'), (e ->> 'user_id')::bigint, v_expires)
  ON CONFLICT (token_hash) DO NOTHING;
  IF NOT FOUND THEN
    RETURN token_taken();
  END IF;
  RETURN op_ok(jsonb_build_object(
    'expires_at_ms', epoch_ms(v_expires)::text,
    'user_id', e ->> 'user_id'
  ));
END $$;

-- Ends the session by expiring it rather than deleting it, so a late copy of this
-- request can still be matched to its caller and get the stored response.
CREATE FUNCTION op_logout(ctx request_context, p_token_hash bytea) RETURNS op_result
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE sessions SET expires_at = now() WHERE token_hash = p_token_hash;
  RETURN op_ok('{}'::jsonb);
END $$;

CREATE FUNCTION op_deposit(ctx request_context, p jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_amount bigint := (p ->> 'amount_cents')::bigint;
  v_events audit_event[] := ARRAY[ev_command('ADD', NULL, (p ->> 'amount_cents')::bigint)];
  v_cash bigint;
  v_reserved bigint;
BEGIN
  UPDATE accounts SET cash = cash + v_amount
  WHERE user_id = ctx.user_id AND cash + reserved_cash <= max_balance_cents() - v_amount
  RETURNING cash, reserved_cash INTO v_cash, v_reserved;
  IF NOT FOUND THEN
    RETURN refuse(ctx, v_events, 'ADD', NULL, v_amount, 9, 'BALANCE_LIMIT',
      format('depositing %s would take the balance over the limit of %s', money_text(v_amount),
             money_text(max_balance_cents())));
  END IF;
  INSERT INTO ledger (request_id, user_id, kind, cash_delta) VALUES (ctx.request_id, ctx.user_id, 'deposit', v_amount);
  PERFORM write_audit(ctx, v_events || ev_account('add', v_amount));
  RETURN op_ok(account_body(v_cash, v_reserved));
END $$;

-- Buys or sells at once at the signed quote's price. The replica has verified the
-- signature; the expiry is checked here, against the database's clock.
CREATE FUNCTION op_trade(ctx request_context, p jsonb, p_side text) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_symbol text := p ->> 'symbol';
  v_shares bigint := (p ->> 'shares')::bigint;
  v_price bigint := (p -> 'quote' ->> 'price_cents')::bigint;
  v_expires_ms bigint := (p -> 'quote' ->> 'expires_at_ms')::bigint;
  v_command text := upper(p_side);
  v_total bigint := v_shares * v_price;
  v_events audit_event[];
  v_cash bigint;
  v_reserved bigint;
  v_held bigint;
  v_held_reserved bigint;
  v_trade trades;
BEGIN
  v_events := ARRAY[
    ev_command(v_command, v_symbol, v_total),
    ev_quote(v_symbol, v_price, (p -> 'quote' ->> 'issued_at_ms')::bigint, p -> 'quote' ->> 'signature')
  ];
  IF v_expires_ms <= epoch_ms(now()) THEN
    RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, 9, 'QUOTE_EXPIRED',
      format('the quote for %s expired %s ms ago; get a fresh quote', v_symbol, epoch_ms(now()) - v_expires_ms));
  END IF;

  IF p_side = 'buy' THEN
    SELECT cash INTO v_cash FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
    IF coalesce(v_cash, 0) < v_total THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, 9, 'INSUFFICIENT_FUNDS',
        format('buying %s %s at %s costs %s but only %s is available', v_shares, v_symbol, money_text(v_price),
               money_text(v_total), money_text(coalesce(v_cash, 0))));
    END IF;
    IF shares_held(ctx.user_id, v_symbol) > max_shares_held() - v_shares THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, 9, 'HOLDING_LIMIT',
        format('buying %s %s would take the holding over the limit of %s shares', v_shares, v_symbol,
               max_shares_held()));
    END IF;
    UPDATE accounts SET cash = cash - v_total WHERE user_id = ctx.user_id
    RETURNING cash, reserved_cash INTO v_cash, v_reserved;
    INSERT INTO holdings AS h (user_id, symbol, shares) VALUES (ctx.user_id, v_symbol, v_shares)
    ON CONFLICT (user_id, symbol) DO UPDATE SET shares = h.shares + excluded.shares
    RETURNING shares, reserved_shares INTO v_held, v_held_reserved;
  ELSE
    -- The account row is locked first, as in a buy, so the two never deadlock.
    SELECT cash, reserved_cash INTO v_cash, v_reserved FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
    IF v_cash + v_reserved > max_balance_cents() - v_total THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, 9, 'BALANCE_LIMIT',
        format('selling would take the balance over the limit of %s', money_text(max_balance_cents())));
    END IF;
    UPDATE holdings SET shares = shares - v_shares
    WHERE user_id = ctx.user_id AND symbol = v_symbol AND shares >= v_shares
    RETURNING shares, reserved_shares INTO v_held, v_held_reserved;
    IF NOT FOUND THEN
      SELECT shares INTO v_held FROM holdings WHERE user_id = ctx.user_id AND symbol = v_symbol;
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, 9, 'INSUFFICIENT_SHARES',
        format('selling %s %s needs %s shares but only %s are held', v_shares, v_symbol, v_shares,
               coalesce(v_held, 0)));
    END IF;
    UPDATE accounts SET cash = cash + v_total WHERE user_id = ctx.user_id
    RETURNING cash, reserved_cash INTO v_cash, v_reserved;
  END IF;

  INSERT INTO trades (request_id, user_id, symbol, side, shares, price_cents, total_cents, quote_sequence,
                      quote_signature, replica_id)
  VALUES (ctx.request_id, ctx.user_id, v_symbol, p_side, v_shares, v_price, v_total,
          (p -> 'quote' ->> 'sequence')::bigint, decode(p -> 'quote' ->> 'signature', 'base64'), ctx.replica_id)
  RETURNING * INTO v_trade;
  INSERT INTO ledger (request_id, user_id, kind, symbol, cash_delta, shares_delta)
  VALUES (ctx.request_id, ctx.user_id, p_side, v_symbol,
          CASE p_side WHEN 'buy' THEN -v_total ELSE v_total END,
          CASE p_side WHEN 'buy' THEN v_shares ELSE -v_shares END);
  PERFORM write_audit(ctx, v_events || ev_account(CASE p_side WHEN 'buy' THEN 'remove' ELSE 'add' END, v_total));
  RETURN op_ok(jsonb_build_object(
    'trade', trade_json(v_trade),
    'account', account_body(v_cash, v_reserved),
    'holding', jsonb_build_object('symbol', v_symbol, 'shares', v_held::text, 'reserved_shares', v_held_reserved::text)
  ));
END $$;

-- ---------------------------------------------------------------------------
-- Execution.

CREATE FUNCTION dispatch_op(p_op text, ctx request_context, p jsonb, e jsonb, p_token_hash bytea)
RETURNS op_result
LANGUAGE plpgsql AS $$
BEGIN
  CASE p_op
    WHEN 'register' THEN RETURN op_register(ctx, p, e);
    WHEN 'login' THEN RETURN op_login(ctx, p, e);
    WHEN 'logout' THEN RETURN op_logout(ctx, p_token_hash);
    WHEN 'deposit' THEN RETURN op_deposit(ctx, p);
    WHEN 'buy' THEN RETURN op_trade(ctx, p, 'buy');
    WHEN 'sell' THEN RETURN op_trade(ctx, p, 'sell');
  END CASE;
END $$;

-- The response stored under a request id, provided the copy asking is the same
-- request (same operation, caller and parameters).
CREATE FUNCTION stored_response(p_request_id uuid, p_fingerprint bytea) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v request_log;
BEGIN
  SELECT * INTO STRICT v FROM request_log WHERE request_id = p_request_id;
  IF v.fingerprint <> p_fingerprint THEN
    RETURN op_error(9, 'IDEMPOTENCY_KEY_REUSED',
      format('request id %s was already used for a different request; use a new id', p_request_id));
  END IF;
  RETURN ROW(v.status, v.reason, v.message, v.body)::op_result;
END $$;

-- SHA-256 of the operation, the caller and the parameters: what makes two copies the same request.
CREATE FUNCTION request_fingerprint(p_op text, p_user_id bigint, p_params jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to(p_op || E'\n' || coalesce(p_user_id::text, '-') || E'\n' || p_params::text, 'UTF8'))
$$;

-- Claims the request id. A concurrent copy's insert waits here until the holder
-- commits (then: not claimed) or rolls back (then: claimed).
CREATE FUNCTION claim(p_request_id uuid, p_fingerprint bytea, p_op text, p_user_id bigint, p_replica text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO request_log (request_id, fingerprint, op, user_id, replica_id)
  VALUES (p_request_id, p_fingerprint, p_op, p_user_id, p_replica)
  ON CONFLICT (request_id) DO NOTHING;
  RETURN FOUND;
END $$;

CREATE FUNCTION store_response(p_request_id uuid, r op_result) RETURNS op_result
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE request_log SET status = r.status, reason = r.reason, message = r.message, body = r.body
  WHERE request_id = p_request_id;
  RETURN r;
END $$;

-- p_params: the request's parameters as the client sent them (fingerprinted).
-- p_extra: what the replica derived and must not be fingerprinted (a fresh salt,
--   a fresh session token): copies differ there, and the first copy's wins.
-- p_strategy: 'cache' claims the id first, so later copies wait on the unique key
--   and read the stored response; 'abort' (the seed's baseline without the
--   response cache) has every copy do the work and undo it if it loses the key.
CREATE FUNCTION execute_request(
  p_request_id uuid,
  p_op text,
  p_token_hash bytea,
  p_params jsonb,
  p_extra jsonb,
  p_strategy text,
  p_replica text
) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  ctx request_context;
  v_session_valid boolean := true;
  v_fingerprint bytea;
  v_constraint text;
  r op_result;
BEGIN
  ctx.request_id := p_request_id;
  ctx.replica_id := p_replica;
  IF p_token_hash IS NOT NULL THEN
    SELECT s.user_id, u.username, s.expires_at > now()
    INTO ctx.user_id, ctx.username, v_session_valid
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = p_token_hash;
    IF NOT FOUND THEN
      RETURN op_error(16, 'SESSION_INVALID', 'the session token is not valid; log in');
    END IF;
  END IF;
  v_fingerprint := request_fingerprint(p_op, ctx.user_id, p_params);

  IF NOT v_session_valid THEN
    -- Refused, but through the claim like any answer: a copy that started while the
    -- session was still valid (or a logout that ended it) may hold the claim, and
    -- every copy must get the answer that copy stored.
    IF NOT claim(p_request_id, v_fingerprint, p_op, ctx.user_id, p_replica) THEN
      RETURN stored_response(p_request_id, v_fingerprint);
    END IF;
    RETURN store_response(p_request_id,
      op_error(16, 'SESSION_EXPIRED', 'the session has expired; log in again (and send this request with a new id)'));
  END IF;
  ctx.transaction_num := coalesce((p_params ->> 'transaction_num')::bigint, nextval('transaction_num_seq'));

  IF p_strategy = 'cache' THEN
    IF NOT claim(p_request_id, v_fingerprint, p_op, ctx.user_id, p_replica) THEN
      RETURN stored_response(p_request_id, v_fingerprint);
    END IF;
    RETURN store_response(p_request_id, dispatch_op(p_op, ctx, p_params, p_extra, p_token_hash));
  ELSIF p_strategy = 'abort' THEN
    BEGIN
      r := dispatch_op(p_op, ctx, p_params, p_extra, p_token_hash);
      INSERT INTO request_log (request_id, fingerprint, op, user_id, replica_id, status, reason, message, body)
      VALUES (p_request_id, v_fingerprint, p_op, ctx.user_id, p_replica, r.status, r.reason, r.message, r.body);
      RETURN r;
    EXCEPTION WHEN OTHERS THEN
      -- Lost the key, or failed while doing work another copy has finished: this
      -- copy's work was rolled back with the block above, and the stored answer is
      -- the request's. Without one, the failure is this copy's own.
      GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
      IF v_constraint IS DISTINCT FROM 'request_log_pkey'
         AND NOT EXISTS (SELECT 1 FROM request_log WHERE request_id = p_request_id) THEN
        RAISE;
      END IF;
    END;
    RETURN stored_response(p_request_id, v_fingerprint);
  END IF;
  RAISE EXCEPTION 'unknown deduplication strategy %', p_strategy;
END $$;

-- Register and Login cost a scrypt computation (about 90 ms of CPU) in the
-- replica, between reading and writing. Three replicas computing it for three
-- copies of one request would triple the cost, so these two run as one
-- transaction of two statements: claim_request, the replica's scrypt, then
-- complete_request. The other copies wait on the claim meanwhile, and a replica
-- that dies in between drops its connection, which rolls the claim back.
-- (The 'abort' strategy does not apply to them.)

-- NULL when this copy holds the claim; otherwise the stored response.
CREATE FUNCTION claim_request(p_request_id uuid, p_op text, p_params jsonb, p_replica text) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_fingerprint bytea := request_fingerprint(p_op, NULL, p_params);
BEGIN
  IF claim(p_request_id, v_fingerprint, p_op, NULL, p_replica) THEN
    RETURN NULL;
  END IF;
  RETURN stored_response(p_request_id, v_fingerprint);
END $$;

CREATE FUNCTION complete_request(p_request_id uuid, p_op text, p_params jsonb, p_extra jsonb, p_replica text)
RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  ctx request_context;
BEGIN
  ctx.request_id := p_request_id;
  ctx.replica_id := p_replica;
  ctx.transaction_num := nextval('transaction_num_seq');
  RETURN store_response(p_request_id, dispatch_op(p_op, ctx, p_params, p_extra, NULL));
END $$;

-- ---------------------------------------------------------------------------
-- Reads. They change nothing, so they need no request id.

CREATE FUNCTION session_user_id(p_token_hash bytea) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT user_id FROM sessions WHERE token_hash = p_token_hash AND expires_at > now()
$$;

CREATE FUNCTION read_portfolio(p_token_hash bytea) RETURNS op_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_user bigint := session_user_id(p_token_hash);
BEGIN
  IF v_user IS NULL THEN
    RETURN op_error(16, 'SESSION_INVALID', 'the session token is not valid or has expired; log in');
  END IF;
  RETURN op_ok(jsonb_build_object(
    'account', (SELECT account_body(cash, reserved_cash) FROM accounts WHERE user_id = v_user),
    'holdings', coalesce((
      SELECT jsonb_agg(jsonb_build_object('symbol', symbol, 'shares', shares::text,
                                          'reserved_shares', reserved_shares::text) ORDER BY symbol)
      FROM holdings WHERE user_id = v_user AND (shares > 0 OR reserved_shares > 0)), '[]'::jsonb)
  ));
END $$;

CREATE FUNCTION read_trades(p_token_hash bytea, p_limit integer, p_before bigint) RETURNS op_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_user bigint := session_user_id(p_token_hash);
BEGIN
  IF v_user IS NULL THEN
    RETURN op_error(16, 'SESSION_INVALID', 'the session token is not valid or has expired; log in');
  END IF;
  RETURN op_ok(jsonb_build_object('trades', coalesce((
    SELECT jsonb_agg(trade_json(t) ORDER BY t.id DESC)
    FROM (SELECT * FROM trades WHERE user_id = v_user AND (p_before = 0 OR id < p_before)
          ORDER BY id DESC LIMIT p_limit) t), '[]'::jsonb)));
END $$;
