-- Holdings and the ledger.

-- Shares of a symbol a user holds, reserved or not.
CREATE OR REPLACE FUNCTION shares_held(p_user bigint, p_symbol text) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT shares + reserved_shares FROM holdings WHERE user_id = p_user AND symbol = p_symbol), 0)
$$;
