-- Exactly-once execution.
--
-- A replica runs every mutating request as ONE statement:
--   SELECT * FROM execute_request(request_id, op, token_hash, params, extra, strategy, replica)
-- so claiming the request id, doing the work, writing its audit events and storing
-- the response commit together or not at all, in one round trip. A replica killed
-- at any instruction leaves either nothing or the whole request behind.
--
-- Operations decide every refusal before their first write, so an application
-- error (which is stored and returned to every copy) never leaves a partial effect.

-- Effects without a client request of their own (an order expiring, a trigger
-- firing) are recorded under an id derived from what caused them, so each still
-- has exactly one effect. (p_id::text, not text || bigint, which is STABLE: the
-- function is IMMUTABLE and inlined only if its body is.)
CREATE OR REPLACE FUNCTION derived_request_id(p_kind text, p_id bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$ SELECT md5(p_kind || ':' || p_id::text)::uuid $$;

-- The operation named by the replica (Operation in src/replica/operation.ts; a
-- test runs every one of them through here).
CREATE OR REPLACE FUNCTION dispatch_op(p_op text, ctx request_context, p jsonb, e jsonb, p_token_hash bytea)
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
    WHEN 'add' THEN RETURN op_add(ctx, p);
    WHEN 'quote' THEN RETURN op_quote(ctx, p);
    WHEN 'order_buy' THEN RETURN op_order(ctx, p, e, 'buy');
    WHEN 'order_sell' THEN RETURN op_order(ctx, p, e, 'sell');
    WHEN 'commit_buy' THEN RETURN op_settle(ctx, 'buy', true);
    WHEN 'cancel_buy' THEN RETURN op_settle(ctx, 'buy', false);
    WHEN 'commit_sell' THEN RETURN op_settle(ctx, 'sell', true);
    WHEN 'cancel_sell' THEN RETURN op_settle(ctx, 'sell', false);
    WHEN 'set_buy_amount' THEN RETURN op_set_amount(ctx, p, 'buy');
    WHEN 'set_sell_amount' THEN RETURN op_set_amount(ctx, p, 'sell');
    WHEN 'set_buy_trigger' THEN RETURN op_set_trigger(ctx, p, 'buy');
    WHEN 'set_sell_trigger' THEN RETURN op_set_trigger(ctx, p, 'sell');
    WHEN 'cancel_set_buy' THEN RETURN op_cancel_trigger(ctx, p, 'buy');
    WHEN 'cancel_set_sell' THEN RETURN op_cancel_trigger(ctx, p, 'sell');
    WHEN 'display_summary' THEN RETURN op_display_summary(ctx);
    WHEN 'dump_log' THEN RETURN op_dump_log(ctx, p);
    WHEN 'refuse' THEN RETURN op_refuse(ctx, p);
  END CASE;
END $$;

-- The response stored under a request id, provided the copy asking is the same
-- request (same operation, caller and parameters).
CREATE OR REPLACE FUNCTION stored_response(p_request_id uuid, p_fingerprint bytea) RETURNS op_result
LANGUAGE plpgsql AS $$
DECLARE
  v request_log;
BEGIN
  SELECT * INTO STRICT v FROM request_log WHERE request_id = p_request_id;
  IF v.fingerprint <> p_fingerprint THEN
    RETURN op_error(grpc_failed_precondition(), 'IDEMPOTENCY_KEY_REUSED',
      format('request id %s was already used for a different request; use a new id', p_request_id));
  END IF;
  RETURN ROW(v.status, v.reason, v.message, v.body)::op_result;
END $$;

-- SHA-256 of the operation, the caller and the parameters: what makes two copies the same request.
-- STABLE as convert_to is.
CREATE OR REPLACE FUNCTION request_fingerprint(p_op text, p_user_id bigint, p_params jsonb) RETURNS bytea
LANGUAGE sql STABLE AS $$
  SELECT sha256(convert_to(p_op || E'\n' || coalesce(p_user_id::text, '-') || E'\n' || p_params::text, 'UTF8'))
$$;

-- Claims the request id: 'claimed' when this copy inserted it. A concurrent
-- copy's insert waits here until the holder commits (then: 'waited', and the
-- holder's answer is read) or rolls back (then: 'claimed'). 'replayed' when the
-- answer was already stored as this copy arrived (one index probe more, in the
-- same statement: it is what tells a waiting copy from a late one).
CREATE OR REPLACE FUNCTION claim(p_request_id uuid, p_fingerprint bytea, p_op text, p_user_id bigint, p_replica text,
  p_trace_id text)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM request_log WHERE request_id = p_request_id) THEN
    RETURN 'replayed';
  END IF;
  INSERT INTO request_log (request_id, fingerprint, op, user_id, replica_id, trace_id)
  VALUES (p_request_id, p_fingerprint, p_op, p_user_id, p_replica, p_trace_id)
  ON CONFLICT (request_id) DO NOTHING;
  RETURN CASE WHEN FOUND THEN 'claimed' ELSE 'waited' END;
END $$;

-- The class of the advisory locks tied copies take (two-key form: apart from the
-- one-key locks of src/common/advisory-locks.ts).
CREATE OR REPLACE FUNCTION tied_copies_lock_class() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 4681216 $$;

-- An operation's result with how its request id was found (executed_request, migrations/005).
CREATE OR REPLACE FUNCTION with_dedup(r op_result, p_dedup text) RETURNS executed_request
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(r.status, r.reason, r.message, r.body, p_dedup)::executed_request $$;

CREATE OR REPLACE FUNCTION store_response(p_request_id uuid, r op_result) RETURNS op_result
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE request_log SET status = r.status, reason = r.reason, message = r.message, body = r.body
  WHERE request_id = p_request_id;
  RETURN r;
END $$;

-- p_params: the request's parameters as the client sent them (fingerprinted).
-- p_extra: what the replica derived and must not be fingerprinted (Register's
--   fresh salt and password hash, Login's user id, a session's lifetime; the
--   session token's hash is a parameter): copies differ there, and the first
--   copy's wins.
-- p_strategy: 'cache' claims the id first, so later copies wait on the unique key
--   and read the stored response; 'abort' (the seed's baseline without the
--   response cache) has every copy do the work and undo it if it loses the key.
-- p_trace_id: the client's trace id, kept with the request by the copy that claims it.
-- p_tied: the client sent this copy together with siblings (active mode) and
--   takes a sibling's answer: a copy that finds a sibling executing the request
--   id right now, or its answer already stored, answers 'tied' at once, with no
--   status, instead of waiting for that sibling's commit and reading its answer
--   (src/common/tied-copies.ts). Nothing is claimed or stored for it, so
--   exactly-once is the claim's as before.
-- The answer says how the id was found (dedup: claimed, waited, replayed, tied;
-- NULL for a session that does not exist, which claims nothing).
CREATE OR REPLACE FUNCTION execute_request(
  p_request_id uuid,
  p_op text,
  p_token_hash bytea,
  p_params jsonb,
  p_extra jsonb,
  p_strategy text,
  p_replica text,
  p_trace_id text DEFAULT NULL,
  p_tied boolean DEFAULT false
) RETURNS executed_request
LANGUAGE plpgsql AS $$
DECLARE
  ctx request_context;
  v_session_valid boolean := true;
  v_fingerprint bytea;
  v_constraint text;
  v_claim text;
  v_stored boolean;
  r op_result;
BEGIN
  -- Before anything else, so that a tied loser costs a lock probe and an index probe:
  -- no session read, no fingerprint, no stored answer read and sent back. Most losers
  -- come a moment after the winner committed. The lock is the transaction's (this
  -- statement's), released after the executing copy's commit is visible. The probe
  -- shares the expression's snapshot, taken before the lock: a winner that commits in
  -- between is missed here, and the copy goes on to the claim, which answers it as a
  -- replay. Two ids hashing alike only make a copy answer 'tied' that could have waited.
  IF p_tied AND (NOT pg_try_advisory_xact_lock(tied_copies_lock_class(), hashtext(p_request_id::text))
                 OR EXISTS (SELECT 1 FROM request_log WHERE request_id = p_request_id)) THEN
    RETURN ROW(NULL, NULL, NULL, NULL, 'tied')::executed_request;
  END IF;
  ctx.request_id := p_request_id;
  ctx.replica_id := p_replica;
  IF p_token_hash IS NOT NULL THEN
    SELECT s.user_id, u.username, s.expires_at > now()
    INTO ctx.user_id, ctx.username, v_session_valid
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = p_token_hash;
    IF NOT FOUND THEN
      RETURN with_dedup(session_invalid(), NULL);
    END IF;
  END IF;
  v_fingerprint := request_fingerprint(p_op, ctx.user_id, p_params);

  IF NOT v_session_valid THEN
    -- Refused, but through the claim like any answer: a copy that started while the
    -- session was still valid (or a logout that ended it) may hold the claim, and
    -- every copy must get the answer that copy stored.
    v_claim := claim(p_request_id, v_fingerprint, p_op, ctx.user_id, p_replica, p_trace_id);
    IF v_claim <> 'claimed' THEN
      RETURN with_dedup(stored_response(p_request_id, v_fingerprint), v_claim);
    END IF;
    RETURN with_dedup(store_response(p_request_id, session_invalid()), v_claim);
  END IF;

  IF p_strategy = 'cache' THEN
    -- The claim first: a losing copy waits here for the winner and reads its answer,
    -- and takes nothing else (not even a transaction number).
    v_claim := claim(p_request_id, v_fingerprint, p_op, ctx.user_id, p_replica, p_trace_id);
    IF v_claim <> 'claimed' THEN
      RETURN with_dedup(stored_response(p_request_id, v_fingerprint), v_claim);
    END IF;
    ctx.transaction_num := coalesce((p_params ->> 'transaction_num')::bigint, nextval('transaction_num_seq'));
    RETURN with_dedup(store_response(p_request_id, dispatch_op(p_op, ctx, p_params, p_extra, p_token_hash)), v_claim);
  ELSIF p_strategy = 'abort' THEN
    v_stored := EXISTS (SELECT 1 FROM request_log WHERE request_id = p_request_id);
    ctx.transaction_num := coalesce((p_params ->> 'transaction_num')::bigint, nextval('transaction_num_seq'));
    BEGIN
      r := dispatch_op(p_op, ctx, p_params, p_extra, p_token_hash);
      INSERT INTO request_log (request_id, fingerprint, op, user_id, replica_id, status, reason, message, body,
        trace_id)
      VALUES (p_request_id, v_fingerprint, p_op, ctx.user_id, p_replica, r.status, r.reason, r.message, r.body,
        p_trace_id);
      RETURN with_dedup(r, 'claimed');
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
    RETURN with_dedup(stored_response(p_request_id, v_fingerprint), CASE WHEN v_stored THEN 'replayed' ELSE 'waited' END);
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

-- A NULL status when this copy holds the claim (dedup 'claimed'); otherwise the stored response.
CREATE OR REPLACE FUNCTION claim_request(p_request_id uuid, p_op text, p_params jsonb, p_replica text,
  p_trace_id text DEFAULT NULL) RETURNS executed_request
LANGUAGE plpgsql AS $$
DECLARE
  v_fingerprint bytea := request_fingerprint(p_op, NULL, p_params);
  v_claim text := claim(p_request_id, v_fingerprint, p_op, NULL, p_replica, p_trace_id);
BEGIN
  IF v_claim = 'claimed' THEN
    RETURN ROW(NULL, NULL, NULL, NULL, v_claim)::executed_request;
  END IF;
  RETURN with_dedup(stored_response(p_request_id, v_fingerprint), v_claim);
END $$;

CREATE OR REPLACE FUNCTION complete_request(p_request_id uuid, p_op text, p_params jsonb, p_extra jsonb, p_replica text)
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
