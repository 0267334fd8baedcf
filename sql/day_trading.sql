-- The SEng 468 day-trading command set (seng468/SPEC.md), on the same
-- exactly-once execution as the trading operations: every command is a request
-- run once through execute_request, writing its audit events in its transaction.

CREATE OR REPLACE FUNCTION order_json(o pending_orders) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'side', o.side, 'symbol', o.symbol, 'shares', o.shares::text, 'price', money_text(o.price_cents),
    'amount', money_text(o.shares * o.price_cents), 'expires_at_ms', epoch_ms(o.expires_at)::text
  )
$$;

CREATE OR REPLACE FUNCTION trigger_json(t triggers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'side', t.side, 'symbol', t.symbol, 'amount', money_text(t.amount_cents),
    'trigger_price', coalesce(money_text(t.trigger_price_cents), ''), 'reserved_shares', t.reserved_shares::text,
    'state', t.state
  )
$$;

CREATE OR REPLACE FUNCTION holding_json(p_user bigint, p_symbol text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN coalesce(
    (SELECT jsonb_build_object('symbol', symbol, 'shares', shares::text, 'reserved_shares', reserved_shares::text)
     FROM holdings WHERE user_id = p_user AND symbol = p_symbol),
    jsonb_build_object('symbol', p_symbol, 'shares', '0', 'reserved_shares', '0'));
END $$;

CREATE OR REPLACE FUNCTION result_body(p_message text, p_user bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN jsonb_build_object('message', p_message,
    'account', (SELECT account_body(cash, reserved_cash) FROM accounts WHERE user_id = p_user));
END $$;

-- Gives back what a pending order reserved (a buy's cash, a sell's shares), for a
-- cancel or an expiry: the audit events of that (cash coming back is an account
-- transaction; shares are not).
CREATE OR REPLACE FUNCTION release_order(p_request_id uuid, o pending_orders) RETURNS audit_event[]
LANGUAGE plpgsql AS $$
DECLARE
  v_amount bigint := o.shares * o.price_cents;
BEGIN
  IF o.side = 'buy' THEN
    PERFORM ledger_move(p_request_id, o.user_id, 'release', p_cash => v_amount, p_reserved_cash => -v_amount);
    RETURN ARRAY[ev_account('add', v_amount)];
  END IF;
  PERFORM ledger_move(p_request_id, o.user_id, 'release', o.symbol, p_shares => o.shares,
                      p_reserved_shares => -o.shares);
  RETURN ARRAY[]::audit_event[];
END $$;

-- Releases what an expired pending order reserved. Its effect is recorded under
-- the order's derived id and logged under the number of the command that placed it.
CREATE OR REPLACE FUNCTION expire_order(o pending_orders, p_replica text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  ctx request_context := ROW(derived_request_id('expire', o.id), o.user_id,
                             (SELECT username FROM users WHERE id = o.user_id), p_replica,
                             o.transaction_num)::request_context;
BEGIN
  UPDATE pending_orders SET state = 'expired' WHERE id = o.id;
  PERFORM write_audit(ctx, release_order(ctx.request_id, o));
END $$;

-- Lock order, everywhere: a user's account row first, then that user's pending
-- orders, triggers and holdings. Commands, the sweep and trigger firing all
-- follow it, so none of them can deadlock with another.

-- Expired orders release their reserves when their user is next touched (the
-- caller holds the account)…
CREATE OR REPLACE FUNCTION expire_user_orders(p_user bigint, p_replica text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  o pending_orders;
  n integer := 0;
BEGIN
  FOR o IN SELECT * FROM pending_orders WHERE user_id = p_user AND state = 'pending' AND expires_at <= now()
           ORDER BY id FOR UPDATE LOOP
    PERFORM expire_order(o, p_replica);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- …and by a periodic sweep, user by user. A user whose account another
-- transaction holds is skipped, never waited for: that transaction (a command of
-- theirs, another replica's sweep) expires the orders itself.
CREATE OR REPLACE FUNCTION sweep_expired_orders(p_replica text, p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  u bigint;
  n integer := 0;
BEGIN
  FOR u IN SELECT DISTINCT user_id FROM pending_orders WHERE state = 'pending' AND expires_at <= now()
           ORDER BY user_id LOOP
    EXIT WHEN n >= p_limit;
    PERFORM 1 FROM accounts WHERE user_id = u FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
      n := n + expire_user_orders(u, p_replica);
    END IF;
  END LOOP;
  RETURN n;
END $$;

CREATE OR REPLACE FUNCTION unknown_user(ctx request_context, p_events audit_event[], p_command text, p_symbol text, p_funds bigint)
RETURNS op_result
LANGUAGE sql AS $$
  SELECT refuse(ctx, p_events, p_command, p_symbol, p_funds, grpc_not_found(), 'UNKNOWN_USER',
    format('%s has no account yet: ADD funds first', ctx.username))
$$;

-- ADD answers as every day-trading command does; its work is Deposit's.
CREATE OR REPLACE FUNCTION op_add(ctx request_context, p jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  r op_result := op_deposit(ctx, p);
BEGIN
  IF r.status <> grpc_ok() THEN
    RETURN r;
  END IF;
  RETURN op_ok(jsonb_build_object('message', format('added %s', money_text((p ->> 'amount_cents')::bigint)),
                                  'account', r.body));
END $$;

-- A day-trading command refused for its input (a negative ADD, a malformed amount):
-- it is still a command of the workload, so it is logged, once, and changes nothing else.
CREATE OR REPLACE FUNCTION op_refuse(ctx request_context, p jsonb) RETURNS op_result
LANGUAGE sql AS $$
  SELECT refuse(ctx,
    ARRAY[ev_command(p ->> 'command', p ->> 'symbol', (p ->> 'funds_cents')::bigint, p ->> 'filename')],
    p ->> 'command', p ->> 'symbol', (p ->> 'funds_cents')::bigint,
    (p ->> 'status')::integer, p ->> 'reason', p ->> 'message')
$$;

CREATE OR REPLACE FUNCTION op_quote(ctx request_context, p jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_symbol text := p ->> 'symbol';
  v_price bigint := (p -> 'quote' ->> 'price_cents')::bigint;
BEGIN
  PERFORM write_audit(ctx, ARRAY[
    ev_command('QUOTE', v_symbol),
    ev_quote(v_symbol, v_price, (p -> 'quote' ->> 'issued_at_ms')::bigint, p -> 'quote' ->> 'signature')
  ]);
  RETURN op_ok(jsonb_build_object('message', format('%s is %s', v_symbol, money_text(v_price))));
END $$;

-- BUY and SELL: shares = floor(amount / price) at the signed quote's price,
-- reserved (cash, or shares) as a pending order that expires 60 s later.
-- e.order_ttl_ms: the replica's window (60 s unless configured otherwise).
CREATE OR REPLACE FUNCTION op_order(ctx request_context, p jsonb, e jsonb, p_side text) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_command text := upper(p_side);
  v_symbol text := p ->> 'symbol';
  v_amount bigint := (p ->> 'amount_cents')::bigint;
  v_price bigint := (p -> 'quote' ->> 'price_cents')::bigint;
  v_events audit_event[] := ARRAY[
    ev_command(v_command, v_symbol, v_amount),
    ev_quote(v_symbol, v_price, (p -> 'quote' ->> 'issued_at_ms')::bigint, p -> 'quote' ->> 'signature')];
  v_shares bigint;
  v_cost bigint;
  a accounts;
  h holdings;
  o pending_orders;
BEGIN
  SELECT * INTO a FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN unknown_user(ctx, v_events, v_command, v_symbol, v_amount);
  END IF;
  IF coalesce((p -> 'quote' ->> 'expires_at_ms')::bigint, 0) <= epoch_ms(now()) THEN
    RETURN refuse(ctx, v_events, v_command, v_symbol, v_amount, grpc_failed_precondition(), 'QUOTE_EXPIRED',
      format('the quote for %s has expired; get a fresh quote', v_symbol));
  END IF;
  PERFORM expire_user_orders(ctx.user_id, ctx.replica_id);
  SELECT * INTO a FROM accounts WHERE user_id = ctx.user_id;
  v_shares := v_amount / v_price;
  v_cost := v_shares * v_price;
  IF v_shares < 1 THEN
    RETURN refuse(ctx, v_events, v_command, v_symbol, v_amount, grpc_failed_precondition(), 'AMOUNT_TOO_SMALL',
      format('%s buys no whole share of %s at %s', money_text(v_amount), v_symbol, money_text(v_price)));
  END IF;
  IF p_side = 'buy' THEN
    IF a.cash < v_cost THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_amount, grpc_failed_precondition(), 'INSUFFICIENT_FUNDS',
        format('%s %s at %s cost %s but only %s is available', v_shares, v_symbol, money_text(v_price),
               money_text(v_cost), money_text(a.cash)));
    END IF;
    PERFORM ledger_move(ctx.request_id, ctx.user_id, 'reserve', p_cash => -v_cost, p_reserved_cash => v_cost);
    v_events := v_events || ev_account('remove', v_cost);
  ELSE
    SELECT * INTO h FROM holdings WHERE user_id = ctx.user_id AND symbol = v_symbol FOR UPDATE;
    IF coalesce(h.shares, 0) < v_shares THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_amount, grpc_failed_precondition(), 'INSUFFICIENT_SHARES',
        format('selling %s %s needs %s shares but %s are held unreserved', money_text(v_amount), v_symbol,
               v_shares, coalesce(h.shares, 0)));
    END IF;
    PERFORM ledger_move(ctx.request_id, ctx.user_id, 'reserve', v_symbol, p_shares => -v_shares,
                        p_reserved_shares => v_shares);
  END IF;
  INSERT INTO pending_orders (user_id, side, symbol, shares, price_cents, quote_sequence, quote_signature,
                              request_id, transaction_num, expires_at)
  VALUES (ctx.user_id, p_side, v_symbol, v_shares, v_price, (p -> 'quote' ->> 'sequence')::bigint,
          decode(p -> 'quote' ->> 'signature', 'base64'), ctx.request_id, ctx.transaction_num,
          now() + make_interval(secs => coalesce((e ->> 'order_ttl_ms')::double precision / 1000, 60)))
  RETURNING * INTO o;
  PERFORM write_audit(ctx, v_events);
  RETURN op_ok(result_body(format('%s %s %s at %s pending until %s: COMMIT_%s or CANCEL_%s', p_side, v_shares,
                                  v_symbol, money_text(v_price), o.expires_at, v_command, v_command), ctx.user_id)
               || jsonb_build_object('order', order_json(o)));
END $$;

-- COMMIT_BUY, CANCEL_BUY, COMMIT_SELL, CANCEL_SELL: the newest unexpired pending order of that side.
CREATE OR REPLACE FUNCTION op_settle(ctx request_context, p_side text, p_commit boolean) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_command text := CASE WHEN p_commit THEN 'COMMIT_' ELSE 'CANCEL_' END || upper(p_side);
  v_events audit_event[] := ARRAY[ev_command(v_command)];
  v_amount bigint;
  a accounts;
  o pending_orders;
  t trades;
BEGIN
  SELECT * INTO a FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN unknown_user(ctx, v_events, v_command, NULL, NULL);
  END IF;
  PERFORM expire_user_orders(ctx.user_id, ctx.replica_id);
  SELECT * INTO o FROM pending_orders WHERE user_id = ctx.user_id AND side = p_side AND state = 'pending'
  ORDER BY id DESC LIMIT 1 FOR UPDATE;
  IF NOT FOUND THEN
    RETURN refuse(ctx, v_events, v_command, NULL, NULL, grpc_failed_precondition(), 'NOTHING_PENDING',
      format('there is no unexpired pending %s to %s', p_side, lower(split_part(v_command, '_', 1))));
  END IF;
  v_amount := o.shares * o.price_cents;
  SELECT * INTO a FROM accounts WHERE user_id = ctx.user_id;
  IF p_commit AND p_side = 'sell' AND a.cash + a.reserved_cash > max_balance_cents() - v_amount THEN
    RETURN refuse(ctx, v_events, v_command, o.symbol, v_amount, grpc_failed_precondition(), 'BALANCE_LIMIT',
      format('selling for %s would take the balance over the limit of %s; CANCEL_SELL returns the shares',
             money_text(v_amount), money_text(max_balance_cents())));
  END IF;
  IF p_commit AND p_side = 'buy' AND shares_held(ctx.user_id, o.symbol) > max_shares_held() - o.shares THEN
    RETURN refuse(ctx, v_events, v_command, o.symbol, v_amount, grpc_failed_precondition(), 'HOLDING_LIMIT',
      format('buying %s %s would take the holding over the limit of %s shares; CANCEL_BUY returns the cash',
             o.shares, o.symbol, max_shares_held()));
  END IF;
  UPDATE pending_orders SET state = CASE WHEN p_commit THEN 'committed' ELSE 'cancelled' END WHERE id = o.id;
  IF p_commit THEN
    IF p_side = 'buy' THEN
      PERFORM ledger_move(ctx.request_id, ctx.user_id, 'buy', o.symbol, p_reserved_cash => -v_amount,
                          p_shares => o.shares);
    ELSE
      PERFORM ledger_move(ctx.request_id, ctx.user_id, 'sell', o.symbol, p_cash => v_amount,
                          p_reserved_shares => -o.shares);
      v_events := v_events || ev_account('add', v_amount);
    END IF;
    INSERT INTO trades (request_id, user_id, symbol, side, shares, price_cents, total_cents, quote_sequence,
                        quote_signature, replica_id)
    VALUES (ctx.request_id, ctx.user_id, o.symbol, p_side, o.shares, o.price_cents, v_amount, o.quote_sequence,
            o.quote_signature, ctx.replica_id)
    RETURNING * INTO t;
  ELSE
    v_events := v_events || release_order(ctx.request_id, o);
  END IF;
  PERFORM write_audit(ctx, v_events);
  RETURN op_ok(result_body(format('%s %s %s %s at %s', CASE WHEN p_commit THEN 'committed' ELSE 'cancelled' END,
                                  p_side, o.shares, o.symbol, money_text(o.price_cents)), ctx.user_id)
               || jsonb_build_object('order', order_json(o), 'holding', holding_json(ctx.user_id, o.symbol))
               || CASE WHEN t.id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('trade', trade_json(t)) END);
END $$;

-- Moves a sell trigger's reservation to floor(amount / price) shares of its
-- symbol. NULL when done; otherwise the refusal, and nothing moved.
CREATE OR REPLACE FUNCTION reserve_for_sale(
  ctx request_context, p_events audit_event[], p_command text, t triggers, p_amount bigint, p_price bigint,
  p_funds bigint
) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_shares bigint := p_amount / p_price;
  v_held bigint;
  v_available bigint;
BEGIN
  SELECT shares INTO v_held FROM holdings WHERE user_id = t.user_id AND symbol = t.symbol FOR UPDATE;
  v_available := coalesce(v_held, 0) + t.reserved_shares;
  IF v_shares < 1 OR v_available < v_shares THEN
    RETURN refuse(ctx, p_events, p_command, t.symbol, p_funds, grpc_failed_precondition(), 'INSUFFICIENT_SHARES',
      format('selling %s of %s at %s needs %s shares; %s are available', money_text(p_amount), t.symbol,
             money_text(p_price), greatest(v_shares, 1), v_available));
  END IF;
  PERFORM ledger_move(ctx.request_id, t.user_id, 'reserve', t.symbol, p_shares => t.reserved_shares - v_shares,
                      p_reserved_shares => v_shares - t.reserved_shares);
  RETURN NULL;
END $$;

-- A user's trigger on a symbol that is set or armed, locked; all NULL if there is none.
CREATE OR REPLACE FUNCTION live_trigger(p_user bigint, p_side text, p_symbol text) RETURNS triggers
LANGUAGE plpgsql AS $$
DECLARE
  t triggers;
BEGIN
  SELECT * INTO t FROM triggers WHERE user_id = p_user AND side = p_side AND symbol = p_symbol
    AND state IN ('set', 'armed') FOR UPDATE;
  RETURN t;
END $$;

-- SET_BUY_AMOUNT and SET_SELL_AMOUNT. A buy trigger's amount is reserved cash; a
-- second call moves the reserve to the new amount. A sell trigger's amount reserves
-- nothing until it is armed; if it is armed, its shares are reserved afresh.
CREATE OR REPLACE FUNCTION op_set_amount(ctx request_context, p jsonb, p_side text) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_command text := 'SET_' || upper(p_side) || '_AMOUNT';
  v_symbol text := p ->> 'symbol';
  v_amount bigint := (p ->> 'amount_cents')::bigint;
  v_events audit_event[] := ARRAY[ev_command(v_command, v_symbol, v_amount)];
  v_delta bigint;
  a accounts;
  t triggers;
  r op_result;
BEGIN
  SELECT * INTO a FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN unknown_user(ctx, v_events, v_command, v_symbol, v_amount);
  END IF;
  t := live_trigger(ctx.user_id, p_side, v_symbol);
  IF p_side = 'buy' THEN
    v_delta := v_amount - coalesce(t.amount_cents, 0);
    IF a.cash < v_delta THEN
      RETURN refuse(ctx, v_events, v_command, v_symbol, v_amount, grpc_failed_precondition(), 'INSUFFICIENT_FUNDS',
        format('reserving %s for a buy trigger on %s needs %s more but only %s is available', money_text(v_amount),
               v_symbol, money_text(v_delta), money_text(a.cash)));
    END IF;
    IF v_delta <> 0 THEN
      PERFORM ledger_move(ctx.request_id, ctx.user_id, CASE WHEN v_delta > 0 THEN 'reserve' ELSE 'release' END,
                          p_cash => -v_delta, p_reserved_cash => v_delta);
      v_events := v_events || ev_account(CASE WHEN v_delta > 0 THEN 'remove' ELSE 'add' END, abs(v_delta));
    END IF;
  ELSIF t.state = 'armed' THEN
    r := reserve_for_sale(ctx, v_events, v_command, t, v_amount, t.trigger_price_cents, v_amount);
    IF r.status IS NOT NULL THEN
      RETURN r;
    END IF;
    t.reserved_shares := v_amount / t.trigger_price_cents;
  END IF;
  IF t.id IS NULL THEN
    INSERT INTO triggers (user_id, side, symbol, amount_cents, transaction_num)
    VALUES (ctx.user_id, p_side, v_symbol, v_amount, ctx.transaction_num) RETURNING * INTO t;
  ELSE
    UPDATE triggers SET amount_cents = v_amount, reserved_shares = t.reserved_shares WHERE id = t.id RETURNING * INTO t;
  END IF;
  PERFORM write_audit(ctx, v_events);
  RETURN op_ok(result_body(format('%s trigger amount on %s is %s', p_side, v_symbol, money_text(v_amount)), ctx.user_id)
               || jsonb_build_object('trigger', trigger_json(t)));
END $$;

-- SET_BUY_TRIGGER and SET_SELL_TRIGGER: arm the trigger at a price. A sell
-- trigger reserves floor(amount / price) shares now.
CREATE OR REPLACE FUNCTION op_set_trigger(ctx request_context, p jsonb, p_side text) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_command text := 'SET_' || upper(p_side) || '_TRIGGER';
  v_symbol text := p ->> 'symbol';
  v_price bigint := (p ->> 'price_cents')::bigint;
  v_events audit_event[] := ARRAY[ev_command(v_command, v_symbol, v_price)];
  t triggers;
  r op_result;
BEGIN
  PERFORM 1 FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN unknown_user(ctx, v_events, v_command, v_symbol, v_price);
  END IF;
  t := live_trigger(ctx.user_id, p_side, v_symbol);
  IF t.id IS NULL THEN
    RETURN refuse(ctx, v_events, v_command, v_symbol, v_price, grpc_failed_precondition(), 'NO_TRIGGER_AMOUNT',
      format('set an amount first: SET_%s_AMOUNT for %s', upper(p_side), v_symbol));
  END IF;
  IF p_side = 'sell' THEN
    r := reserve_for_sale(ctx, v_events, v_command, t, t.amount_cents, v_price, v_price);
    IF r.status IS NOT NULL THEN
      RETURN r;
    END IF;
    t.reserved_shares := t.amount_cents / v_price;
  END IF;
  UPDATE triggers SET trigger_price_cents = v_price, reserved_shares = t.reserved_shares, state = 'armed',
                      armed_at = clock_timestamp(), transaction_num = ctx.transaction_num
  WHERE id = t.id RETURNING * INTO t;
  PERFORM write_audit(ctx, v_events);
  RETURN op_ok(result_body(format('%s trigger on %s armed at %s', p_side, v_symbol, money_text(v_price)), ctx.user_id)
               || jsonb_build_object('trigger', trigger_json(t)));
END $$;

-- CANCEL_SET_BUY and CANCEL_SET_SELL: remove the trigger, returning what it reserved.
CREATE OR REPLACE FUNCTION op_cancel_trigger(ctx request_context, p jsonb, p_side text) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_command text := 'CANCEL_SET_' || upper(p_side);
  v_symbol text := p ->> 'symbol';
  v_events audit_event[] := ARRAY[ev_command(v_command, v_symbol)];
  t triggers;
BEGIN
  PERFORM 1 FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN unknown_user(ctx, v_events, v_command, v_symbol, NULL);
  END IF;
  t := live_trigger(ctx.user_id, p_side, v_symbol);
  IF t.id IS NULL THEN
    RETURN refuse(ctx, v_events, v_command, v_symbol, NULL, grpc_failed_precondition(), 'NO_TRIGGER',
      format('there is no %s trigger on %s to cancel', p_side, v_symbol));
  END IF;
  UPDATE triggers SET state = 'cancelled' WHERE id = t.id;
  IF p_side = 'buy' THEN
    PERFORM ledger_move(ctx.request_id, ctx.user_id, 'release', p_cash => t.amount_cents,
                        p_reserved_cash => -t.amount_cents);
    v_events := v_events || ev_account('add', t.amount_cents);
  ELSIF t.reserved_shares > 0 THEN
    PERFORM ledger_move(ctx.request_id, ctx.user_id, 'release', v_symbol, p_shares => t.reserved_shares,
                        p_reserved_shares => -t.reserved_shares);
  END IF;
  PERFORM write_audit(ctx, v_events);
  RETURN op_ok(result_body(format('cancelled the %s trigger on %s', p_side, v_symbol), ctx.user_id));
END $$;

CREATE OR REPLACE FUNCTION op_display_summary(ctx request_context) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_events audit_event[] := ARRAY[ev_command('DISPLAY_SUMMARY')];
  a accounts;
BEGIN
  SELECT * INTO a FROM accounts WHERE user_id = ctx.user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN unknown_user(ctx, v_events, 'DISPLAY_SUMMARY', NULL, NULL);
  END IF;
  PERFORM expire_user_orders(ctx.user_id, ctx.replica_id);
  PERFORM write_audit(ctx, v_events);
  RETURN op_ok(jsonb_build_object(
    'username', ctx.username,
    'account', (SELECT account_body(cash, reserved_cash) FROM accounts WHERE user_id = ctx.user_id),
    'holdings', coalesce((SELECT jsonb_agg(jsonb_build_object('symbol', symbol, 'shares', shares::text,
                                            'reserved_shares', reserved_shares::text) ORDER BY symbol)
                          FROM holdings WHERE user_id = ctx.user_id AND (shares > 0 OR reserved_shares > 0)), '[]'),
    'pending_orders', coalesce((SELECT jsonb_agg(order_json(o) ORDER BY o.id DESC) FROM pending_orders o
                                WHERE o.user_id = ctx.user_id AND o.state = 'pending'), '[]'),
    'triggers', coalesce((SELECT jsonb_agg(trigger_json(t) ORDER BY t.symbol, t.side) FROM triggers t
                          WHERE t.user_id = ctx.user_id AND t.state IN ('set', 'armed')), '[]'),
    'recent', coalesce((SELECT jsonb_agg(jsonb_build_object(
                          'kind', l.kind, 'symbol', coalesce(l.symbol, ''), 'cash', money_text(l.cash_delta),
                          'reserved_cash', money_text(l.reserved_cash_delta), 'shares', l.shares_delta::text,
                          'reserved_shares', l.reserved_shares_delta::text, 'at_ms', epoch_ms(l.created_at)::text)
                          ORDER BY l.id DESC)
                        FROM (SELECT * FROM ledger WHERE user_id = ctx.user_id ORDER BY id DESC LIMIT 20) l), '[]')
  ));
END $$;

-- DUMPLOG: logged like every command; the XML is then streamed by the replica up
-- to the last event that existed when it ran. The whole log is for administrators.
CREATE OR REPLACE FUNCTION op_dump_log(ctx request_context, p jsonb) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v_whole boolean := coalesce((p ->> 'whole_log')::boolean, false);
  v_filename text := p ->> 'filename';
  v_events audit_event[] := ARRAY[ev_command('DUMPLOG', NULL, NULL, v_filename)];
BEGIN
  IF v_whole AND NOT (SELECT is_admin FROM users WHERE id = ctx.user_id) THEN
    RETURN refuse(ctx, v_events, 'DUMPLOG', NULL, NULL, grpc_permission_denied(), 'NOT_ADMINISTRATOR',
      'only an administrator may dump the whole log; DUMPLOG with your username dumps your part');
  END IF;
  PERFORM write_audit(ctx, v_events);
  RETURN op_ok(jsonb_build_object(
    'upto_event_id', (SELECT coalesce(max(id), 0) FROM audit_events)::text,
    'whole_log', v_whole,
    'filename', v_filename));
END $$;
