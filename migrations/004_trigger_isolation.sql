-- One trigger that cannot fire must not stop the others. fire_triggers fired a
-- whole batch of ticks in one transaction, so an error in any trigger rolled
-- back every trigger of the batch, and of every later batch that met it again.
-- Each trigger now fires in its own subtransaction: a failure undoes that
-- trigger alone, leaves it armed for a later tick, and is returned to the
-- replica, which logs it. The lock order is unchanged: account, then trigger.
DROP FUNCTION fire_triggers(text[], bigint[], bigint[], bigint[], bytea[], text);

CREATE FUNCTION fire_triggers(
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
