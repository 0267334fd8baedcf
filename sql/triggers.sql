-- Trigger firing: a replica hands the database every signed tick it receives.

-- A trigger fires at the price of the tick that fired it: a buy trigger buys
-- floor(reserve / price) shares and returns the rest of the reserve; a sell
-- trigger sells its reserved shares. Recorded under the trigger's derived id and
-- logged under the number of the command that armed it.
CREATE OR REPLACE FUNCTION fire_trigger(t triggers, p_price bigint, p_sequence bigint, p_signature bytea, p_replica text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  ctx request_context;
  v_shares bigint;
  v_total bigint;
  v_events audit_event[];
  a accounts;
BEGIN
  ctx := ROW(derived_request_id('trigger', t.id), t.user_id, (SELECT username FROM users WHERE id = t.user_id),
             p_replica, t.transaction_num)::request_context;
  SELECT * INTO a FROM accounts WHERE user_id = t.user_id;
  IF t.side = 'buy' AND shares_held(t.user_id, t.symbol) > max_shares_held() - t.amount_cents / p_price THEN
    -- The purchase would take the holding over the cap: the trigger is cancelled, its cash returned.
    PERFORM ledger_move(ctx.request_id, t.user_id, 'release', p_cash => t.amount_cents,
                        p_reserved_cash => -t.amount_cents);
    UPDATE triggers SET state = 'cancelled', fired_at = now(), fired_price_cents = p_price, fired_by = p_replica
    WHERE id = t.id;
    PERFORM write_audit(ctx, ARRAY[
      ev_error('SET_BUY_TRIGGER', t.symbol, NULL,
        format('the buy trigger on %s was cancelled: buying %s shares at %s would take the holding over the limit of %s shares',
               t.symbol, t.amount_cents / p_price, money_text(p_price), max_shares_held())),
      ev_account('add', t.amount_cents)]);
    RETURN;
  END IF;
  IF t.side = 'sell' AND t.reserved_shares::numeric * p_price > max_balance_cents() - a.cash - a.reserved_cash THEN
    -- The sale would take the balance over the cap: the trigger is cancelled, its shares returned.
    PERFORM ledger_move(ctx.request_id, t.user_id, 'release', t.symbol, p_shares => t.reserved_shares,
                        p_reserved_shares => -t.reserved_shares);
    UPDATE triggers SET state = 'cancelled', fired_at = now(), fired_price_cents = p_price, fired_by = p_replica
    WHERE id = t.id;
    PERFORM write_audit(ctx, ARRAY[ev_error('SET_SELL_TRIGGER', t.symbol, NULL,
      format('the sell trigger on %s was cancelled: selling %s shares at %s would take the balance over the limit of %s',
             t.symbol, t.reserved_shares, money_text(p_price), money_text(max_balance_cents())))]);
    RETURN;
  END IF;
  IF t.side = 'buy' THEN
    v_shares := t.amount_cents / p_price;
    v_total := v_shares * p_price;
    PERFORM ledger_move(ctx.request_id, t.user_id, 'buy', t.symbol, p_cash => t.amount_cents - v_total,
                        p_reserved_cash => -t.amount_cents, p_shares => v_shares);
    v_events := ARRAY[ev_system('SET_BUY_TRIGGER', t.symbol, v_total)];
    IF t.amount_cents > v_total THEN
      v_events := v_events || ev_account('add', t.amount_cents - v_total);
    END IF;
  ELSE
    v_shares := t.reserved_shares;
    v_total := v_shares * p_price;
    PERFORM ledger_move(ctx.request_id, t.user_id, 'sell', t.symbol, p_cash => v_total, p_reserved_shares => -v_shares);
    v_events := ARRAY[ev_system('SET_SELL_TRIGGER', t.symbol, v_total), ev_account('add', v_total)];
  END IF;
  IF v_shares > 0 THEN
    INSERT INTO trades (request_id, user_id, symbol, side, shares, price_cents, total_cents, quote_sequence,
                        quote_signature, replica_id)
    VALUES (ctx.request_id, t.user_id, t.symbol, t.side, v_shares, p_price, v_total, p_sequence, p_signature, p_replica);
  END IF;
  UPDATE triggers SET state = 'fired', fired_at = now(), fired_price_cents = p_price, fired_shares = v_shares,
                      fired_by = p_replica
  WHERE id = t.id;
  PERFORM write_audit(ctx, v_events);
END $$;

-- Whether tick i of a batch fires trigger t: issued after it was armed, at its price or better.
CREATE OR REPLACE FUNCTION tick_fires(t triggers, p_symbol text, p_price bigint, p_issued_ms bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT t.state = 'armed' AND t.symbol = p_symbol AND t.armed_at < to_timestamp(p_issued_ms / 1000.0)
     AND ((t.side = 'buy' AND t.trigger_price_cents >= p_price) OR (t.side = 'sell' AND t.trigger_price_cents <= p_price))
$$;

-- Every replica calls this with the signed ticks it receives. Candidates are read
-- without locks, then taken user by user in user-id order, account first (the
-- lock order of sql/day_trading.sql), and checked again under the lock: each
-- trigger fires once, at the first tick of the batch that fires it, and two
-- replicas firing the same ticks wait for each other in one order instead of
-- deadlocking. Each trigger fires in its own subtransaction: one that cannot fire
-- (an error) is undone alone, stays armed for a later tick, and is returned to
-- the replica, which logs it; the others of the batch still fire.
CREATE OR REPLACE FUNCTION fire_triggers(
  p_symbols text[], p_prices bigint[], p_issued_ms bigint[], p_sequences bigint[], p_signatures bytea[],
  p_replica text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c record;
  t triggers;
  n integer := 0;
  v_failures jsonb := '[]';
  v_state text;
  v_message text;
BEGIN
  FOR c IN SELECT tr.id, tr.user_id, k.i
           FROM unnest(p_symbols, p_prices, p_issued_ms) WITH ORDINALITY AS k (symbol, price, issued_ms, i)
           JOIN triggers tr ON tr.state = 'armed' AND tr.symbol = k.symbol
           WHERE tick_fires(tr, k.symbol, k.price, k.issued_ms)
           ORDER BY tr.user_id, k.i, tr.id LOOP
    BEGIN
      PERFORM 1 FROM accounts WHERE user_id = c.user_id FOR UPDATE;
      SELECT * INTO t FROM triggers WHERE id = c.id FOR UPDATE;
      IF tick_fires(t, p_symbols[c.i], p_prices[c.i], p_issued_ms[c.i]) THEN
        PERFORM fire_trigger(t, p_prices[c.i], p_sequences[c.i], p_signatures[c.i], p_replica);
        n := n + 1;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
      v_failures := v_failures || jsonb_build_object('trigger_id', c.id::text, 'sqlstate', v_state,
                                                     'message', v_message);
    END;
  END LOOP;
  RETURN jsonb_build_object('fired', n, 'failures', v_failures);
END $$;

-- Every statement that changes the triggers table (arming, cancelling, firing)
-- notifies the replicas' trigger watchers, delivered at commit, so that at rest
-- they need not read the armed symbols every second (issue 12, idle cost;
-- src/replica/trigger-notices.ts).
CREATE OR REPLACE FUNCTION notify_triggers_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hedge_triggers', '');
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER triggers_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON triggers
FOR EACH STATEMENT EXECUTE FUNCTION notify_triggers_changed();
