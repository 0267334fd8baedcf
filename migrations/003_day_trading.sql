-- The tables of the SEng 468 day-trading commands (seng468/SPEC.md):
-- pending orders and triggers. The commands themselves are in sql/day_trading.sql
-- and sql/triggers.sql.

CREATE TABLE pending_orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  side text NOT NULL CHECK (side IN ('buy', 'sell')),
  symbol text NOT NULL,
  shares bigint NOT NULL CHECK (shares > 0),
  price_cents bigint NOT NULL CHECK (price_cents > 0),
  quote_sequence bigint NOT NULL,
  quote_signature bytea NOT NULL,
  request_id uuid NOT NULL,
  transaction_num bigint NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'committed', 'cancelled', 'expired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX pending_orders_open ON pending_orders (user_id, side, id DESC) WHERE state = 'pending';
CREATE INDEX pending_orders_expiry ON pending_orders (expires_at) WHERE state = 'pending';

CREATE TABLE triggers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  side text NOT NULL CHECK (side IN ('buy', 'sell')),
  symbol text NOT NULL,
  -- buy: the cash reserved for it; sell: the dollar amount to sell.
  amount_cents bigint NOT NULL CHECK (amount_cents > 0),
  trigger_price_cents bigint CHECK (trigger_price_cents > 0),
  reserved_shares bigint NOT NULL DEFAULT 0 CHECK (reserved_shares >= 0),
  state text NOT NULL DEFAULT 'set' CHECK (state IN ('set', 'armed', 'fired', 'cancelled')),
  -- The command that last set or armed it: its systemEvent is logged under that number.
  transaction_num bigint NOT NULL,
  armed_at timestamptz,
  fired_at timestamptz,
  fired_price_cents bigint,
  fired_shares bigint,
  fired_by text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX triggers_live ON triggers (user_id, side, symbol) WHERE state IN ('set', 'armed');
CREATE INDEX triggers_armed ON triggers (symbol) WHERE state = 'armed';
