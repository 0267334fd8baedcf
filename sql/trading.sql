-- The trading API's operations (Register, Login, Logout, Deposit, Buy, Sell) and
-- reads. Each operation takes the request context and the request's parameters
-- and returns the response; params carry money as integer cents in JSON strings.

-- jsonb_build_object is STABLE, and so is every function built on it (inlined only if declared so).
CREATE OR REPLACE FUNCTION account_body(p_cash bigint, p_reserved bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('cash', money_text(p_cash), 'reserved_cash', money_text(p_reserved))
$$;

CREATE OR REPLACE FUNCTION trade_json(t trades) RETURNS jsonb
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

-- An account is opened by the first ADD (or Deposit): a user who logged in but
-- never added money is, to the day-trading commands, an unknown user.
CREATE OR REPLACE FUNCTION op_register(ctx request_context, p jsonb, e jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
  v_expires timestamptz := now() + make_interval(secs => (e ->> 'ttl_seconds')::double precision);
BEGIN
  BEGIN
    INSERT INTO users (username, password_params, password_salt, password_hash)
    VALUES (p ->> 'username', e ->> 'password_params', decode(e ->> 'password_salt', 'base64'),
            decode(e ->> 'password_hash', 'base64'))
    ON CONFLICT (username) DO NOTHING
    RETURNING id INTO v_id;
    IF NOT FOUND THEN
      RETURN op_error(grpc_already_exists(), 'USERNAME_TAKEN', format('the username %s is already registered', p ->> 'username'));
    END IF;
    -- Signing up signs in: one scrypt, not two.
    INSERT INTO sessions (token_hash, user_id, expires_at)
    VALUES (decode(p ->> 'token_hash', 'base64'), v_id, v_expires);
  EXCEPTION WHEN unique_violation THEN
    -- The token is another session's: the new user is undone with this block.
    RETURN token_taken();
  END;
  RETURN op_ok(jsonb_build_object(
    'user_id', v_id::text, 'username', p ->> 'username', 'expires_at_ms', epoch_ms(v_expires)::text
  ));
END $$;

-- The client chose the session's token and every copy carries it; only its hash
-- (p.token_hash, fingerprinted) reaches the database, and the stored response
-- holds no token: the replica adds the request's own to every copy's answer.
CREATE OR REPLACE FUNCTION token_taken() RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT op_error(grpc_already_exists(), 'SESSION_TOKEN_TAKEN', 'this session token is already in use; send a new random one')
$$;

CREATE OR REPLACE FUNCTION op_login(ctx request_context, p jsonb, e jsonb) RETURNS op_result
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
CREATE OR REPLACE FUNCTION op_logout(ctx request_context, p_token_hash bytea) RETURNS op_result
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE sessions SET expires_at = now() WHERE token_hash = p_token_hash;
  RETURN op_ok('{}'::jsonb);
END $$;

-- ADD (and the trading API's Deposit): opens the account if new.
CREATE OR REPLACE FUNCTION op_deposit(ctx request_context, p jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_amount bigint := (p ->> 'amount_cents')::bigint;
  v_events audit_event[] := ARRAY[ev_command('ADD', NULL, (p ->> 'amount_cents')::bigint)];
  v_cash bigint;
  v_reserved bigint;
BEGIN
  INSERT INTO accounts AS a (user_id, cash) VALUES (ctx.user_id, v_amount)
  ON CONFLICT (user_id) DO UPDATE SET cash = a.cash + excluded.cash
  WHERE a.cash + a.reserved_cash <= max_balance_cents() - excluded.cash
  RETURNING cash, reserved_cash INTO v_cash, v_reserved;
  IF NOT FOUND THEN
    RETURN refuse(ctx, v_events, 'ADD', NULL, v_amount, grpc_failed_precondition(), 'BALANCE_LIMIT',
      format('adding %s would take the balance over the limit of %s', money_text(v_amount),
             money_text(max_balance_cents())));
  END IF;
  INSERT INTO ledger (request_id, user_id, kind, cash_delta) VALUES (ctx.request_id, ctx.user_id, 'deposit', v_amount);
  PERFORM write_audit(ctx, v_events || ev_account('add', v_amount));
  RETURN op_ok(account_body(v_cash, v_reserved));
END $$;

-- Buys or sells at once at the signed quote's price. The replica has verified the
-- signature; the expiry is checked here, against the database's clock.
CREATE OR REPLACE FUNCTION op_trade(ctx request_context, p jsonb, p_side text) RETURNS op_result
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
    RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, grpc_failed_precondition(), 'QUOTE_EXPIRED',
      format('the quote for %s expired %s ms ago; get a fresh quote', v_symbol, epoch_ms(now()) - v_expires_ms));
  END IF;

  IF p_side = 'buy' THEN
    SELECT cash INTO v_cash FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
    IF coalesce(v_cash, 0) < v_total THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, grpc_failed_precondition(), 'INSUFFICIENT_FUNDS',
        format('buying %s %s at %s costs %s but only %s is available', v_shares, v_symbol, money_text(v_price),
               money_text(v_total), money_text(coalesce(v_cash, 0))));
    END IF;
    IF shares_held(ctx.user_id, v_symbol) > max_shares_held() - v_shares THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, grpc_failed_precondition(), 'HOLDING_LIMIT',
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
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, grpc_failed_precondition(), 'BALANCE_LIMIT',
        format('selling would take the balance over the limit of %s', money_text(max_balance_cents())));
    END IF;
    UPDATE holdings SET shares = shares - v_shares
    WHERE user_id = ctx.user_id AND symbol = v_symbol AND shares >= v_shares
    RETURNING shares, reserved_shares INTO v_held, v_held_reserved;
    IF NOT FOUND THEN
      SELECT shares INTO v_held FROM holdings WHERE user_id = ctx.user_id AND symbol = v_symbol;
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_total, grpc_failed_precondition(), 'INSUFFICIENT_SHARES',
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
-- Reads. They change nothing, so they need no request id. Each answers with its
-- body for a live session and with session_invalid() for any other token.

CREATE OR REPLACE FUNCTION session_user_id(p_token_hash bytea) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT user_id FROM sessions WHERE token_hash = p_token_hash AND expires_at > now());
END $$;

-- The trading API reads an account that does not exist yet as an empty one.
CREATE OR REPLACE FUNCTION read_portfolio(p_token_hash bytea) RETURNS op_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_user bigint := session_user_id(p_token_hash);
BEGIN
  RETURN CASE WHEN v_user IS NULL THEN session_invalid() ELSE op_ok(jsonb_build_object(
    'account', coalesce((SELECT account_body(cash, reserved_cash) FROM accounts WHERE user_id = v_user),
                        account_body(0, 0)),
    'holdings', coalesce((
      SELECT jsonb_agg(jsonb_build_object('symbol', symbol, 'shares', shares::text,
                                          'reserved_shares', reserved_shares::text) ORDER BY symbol)
      FROM holdings WHERE user_id = v_user AND (shares > 0 OR reserved_shares > 0)), '[]'::jsonb)
  )) END;
END $$;

CREATE OR REPLACE FUNCTION read_trades(p_token_hash bytea, p_limit integer, p_before bigint) RETURNS op_result
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_user bigint := session_user_id(p_token_hash);
BEGIN
  RETURN CASE WHEN v_user IS NULL THEN session_invalid() ELSE op_ok(jsonb_build_object('trades', coalesce((
    SELECT jsonb_agg(trade_json(t) ORDER BY t.id DESC)
    FROM (SELECT * FROM trades WHERE user_id = v_user AND (p_before = 0 OR id < p_before)
          ORDER BY id DESC LIMIT p_limit) t), '[]'::jsonb))) END;
END $$;
