-- Holdings and the ledger.

-- Shares of a symbol a user holds, reserved or not.
CREATE OR REPLACE FUNCTION shares_held(p_user bigint, p_symbol text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN coalesce((SELECT shares + reserved_shares FROM holdings WHERE user_id = p_user AND symbol = p_symbol), 0);
END $$;

-- One movement of a user's cash and shares, and its ledger entry, together:
-- reserving, releasing, settling and firing all move through here, so the ledger
-- reproduces the balances and holdings it moves by construction (what `hedge
-- verify` checks). The account must exist (the caller holds it: the lock order);
-- a holding is made on its first shares. A move past zero fails on the tables'
-- CHECKs, and a move of an account that does not exist raises: neither is ever
-- recorded without its effect.
CREATE OR REPLACE FUNCTION ledger_move(
  p_request_id uuid, p_user bigint, p_kind text, p_symbol text DEFAULT NULL,
  p_cash bigint DEFAULT 0, p_reserved_cash bigint DEFAULT 0, p_shares bigint DEFAULT 0,
  p_reserved_shares bigint DEFAULT 0
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_cash <> 0 OR p_reserved_cash <> 0 THEN
    UPDATE accounts SET cash = cash + p_cash, reserved_cash = reserved_cash + p_reserved_cash WHERE user_id = p_user;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'ledger_move: user % has no account', p_user;
    END IF;
  END IF;
  IF p_shares <> 0 OR p_reserved_shares <> 0 THEN
    UPDATE holdings SET shares = shares + p_shares, reserved_shares = reserved_shares + p_reserved_shares
    WHERE user_id = p_user AND symbol = p_symbol;
    IF NOT FOUND THEN
      INSERT INTO holdings AS h (user_id, symbol, shares, reserved_shares)
      VALUES (p_user, p_symbol, p_shares, p_reserved_shares)
      ON CONFLICT (user_id, symbol) DO UPDATE
      SET shares = h.shares + excluded.shares, reserved_shares = h.reserved_shares + excluded.reserved_shares;
    END IF;
  END IF;
  INSERT INTO ledger (request_id, user_id, kind, symbol, cash_delta, reserved_cash_delta, shares_delta,
                      reserved_shares_delta)
  VALUES (p_request_id, p_user, p_kind, p_symbol, p_cash, p_reserved_cash, p_shares, p_reserved_shares);
END $$;
