-- hedge schema, version 1.
-- Money is BIGINT cents and shares are BIGINT; CHECK constraints hold every
-- invariant the code also checks, so a bug surfaces as an error, not as bad money.

CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_]{3,32}$'),
  -- scrypt: "scrypt$N$r$p", salt and derived key.
  password_params text NOT NULL,
  password_salt bytea NOT NULL,
  password_hash bytea NOT NULL,
  is_admin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Only a hash of the bearer token is kept, so a copy of this table logs nobody in.
CREATE TABLE sessions (
  token_hash bytea PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- 10^17 cents is a quadrillion dollars: far beyond any real balance, far below
-- the 9.2 * 10^18 where BIGINT would overflow on a sum of two balances.
-- Only deposits and sales raise cash + reserved_cash; each checks the cap first.
CREATE TABLE accounts (
  user_id bigint PRIMARY KEY REFERENCES users (id),
  cash bigint NOT NULL DEFAULT 0 CHECK (cash >= 0 AND cash <= 100000000000000000),
  reserved_cash bigint NOT NULL DEFAULT 0 CHECK (reserved_cash >= 0 AND reserved_cash <= 100000000000000000),
  -- The cap is on what the user owns in cash, reserved or not, so releasing a
  -- reserve (an order expiring, a trigger refunding) can never break it.
  CHECK (cash + reserved_cash <= 100000000000000000)
);

CREATE TABLE holdings (
  user_id bigint NOT NULL REFERENCES users (id),
  symbol text NOT NULL,
  shares bigint NOT NULL DEFAULT 0 CHECK (shares >= 0),
  reserved_shares bigint NOT NULL DEFAULT 0 CHECK (reserved_shares >= 0),
  -- As for cash: a cap on what is held, reserved or not, far below BIGINT's range.
  -- Only buys raise it; each checks it first.
  CHECK (shares + reserved_shares <= 100000000000000000),
  PRIMARY KEY (user_id, symbol)
);

-- The request log: one row per logical request, claimed in the transaction that
-- does the work and holding that transaction's response.
CREATE TABLE request_log (
  request_id uuid PRIMARY KEY,
  -- SHA-256 of the operation, the caller and the request's parameters.
  fingerprint bytea NOT NULL,
  op text NOT NULL,
  user_id bigint,
  status integer,
  reason text,
  message text,
  body jsonb,
  replica_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_log_created_at ON request_log (created_at);

-- Every movement of cash or shares. `xid` is the transaction that made it, so one
-- request executed twice shows up as two transactions under one request id.
CREATE TABLE ledger (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id uuid NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  user_id bigint NOT NULL REFERENCES users (id),
  kind text NOT NULL,
  symbol text,
  cash_delta bigint NOT NULL DEFAULT 0,
  reserved_cash_delta bigint NOT NULL DEFAULT 0,
  shares_delta bigint NOT NULL DEFAULT 0,
  reserved_shares_delta bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (symbol IS NOT NULL OR (shares_delta = 0 AND reserved_shares_delta = 0))
);
CREATE INDEX ledger_request_id ON ledger (request_id);
CREATE INDEX ledger_user_id ON ledger (user_id);

CREATE TABLE trades (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id uuid NOT NULL,
  user_id bigint NOT NULL REFERENCES users (id),
  symbol text NOT NULL,
  side text NOT NULL CHECK (side IN ('buy', 'sell')),
  shares bigint NOT NULL CHECK (shares > 0),
  price_cents bigint NOT NULL CHECK (price_cents > 0),
  total_cents bigint NOT NULL CHECK (total_cents = shares * price_cents),
  quote_sequence bigint NOT NULL,
  quote_signature bytea NOT NULL,
  replica_id text NOT NULL,
  executed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trades_user_id ON trades (user_id, id DESC);
CREATE INDEX trades_request_id ON trades (request_id);

-- The audit log, written in the transaction of the change it describes; exported
-- as the SEng 468 XML log. Columns follow the element types of logfile.xsd.
CREATE SEQUENCE transaction_num_seq;
CREATE TABLE audit_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  event_type text NOT NULL CHECK (
    event_type IN ('userCommand', 'quoteServer', 'accountTransaction', 'systemEvent', 'errorEvent', 'debugEvent')
  ),
  server text NOT NULL,
  transaction_num bigint NOT NULL CHECK (transaction_num > 0),
  request_id uuid,
  user_id bigint,
  username text,
  command text,
  symbol text,
  filename text,
  funds_cents bigint,
  action text CHECK (action IN ('add', 'remove')),
  price_cents bigint,
  quote_server_time_ms bigint,
  cryptokey text,
  error_message text,
  debug_message text
);
CREATE INDEX audit_events_user_id ON audit_events (user_id, id);
