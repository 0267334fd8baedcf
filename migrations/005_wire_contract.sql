-- One reason for a token that names no live session (decision 18). A token
-- never issued, one logged out and one expired were told apart only by some
-- RPCs: execute_request said SESSION_INVALID for an unknown token but
-- SESSION_EXPIRED for an ended one, while the reads and StreamLog said
-- SESSION_INVALID for both. The states cannot be told apart for long anyway
-- (Logout ends a session by expiring it; the reaper deletes ended sessions, after
-- which the token is unknown), and the caller's remedy is the same: log in. So
-- every token-taking RPC now answers UNAUTHENTICATED, SESSION_INVALID, with one
-- message. execute_request is restated whole; only its two session refusals change.

CREATE FUNCTION session_invalid() RETURNS op_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT op_error(16, 'SESSION_INVALID', 'the session token is not valid or has expired; log in')
$$;

CREATE OR REPLACE FUNCTION execute_request(
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
      RETURN session_invalid();
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
    RETURN store_response(p_request_id, session_invalid());
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
