-- The ledger: every accepted request, its files, its state history and every callback attempt.

CREATE TABLE requests (
    accept_seqno   text PRIMARY KEY,
    appid          text NOT NULL,
    mchid          text NOT NULL,
    req_seqno      text NOT NULL,
    content_hash   text NOT NULL,
    model          text NOT NULL,
    callback_url   text NOT NULL,
    state          text NOT NULL,
    result_code    text,
    result         jsonb,
    accepted_at    timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    done_at        timestamptz,
    UNIQUE (appid, req_seqno)
);

CREATE TABLE request_files (
    accept_seqno   text NOT NULL REFERENCES requests (accept_seqno),
    idx            int  NOT NULL,
    fileid         text NOT NULL,
    fileurl        text NOT NULL,
    filemd5_given  text,
    filemd5        text,
    image_class    text,
    result_code    int,
    detail         text,
    PRIMARY KEY (accept_seqno, idx)
);

CREATE TABLE state_transitions (
    id             bigserial PRIMARY KEY,
    accept_seqno   text NOT NULL REFERENCES requests (accept_seqno),
    from_state     text,
    to_state       text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX state_transitions_by_request ON state_transitions (accept_seqno);

-- Replay protection shared by every gateway replica.
CREATE TABLE nonces (
    appid          text NOT NULL,
    nonce          text NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (appid, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

-- One row per result to deliver; the due time lives here so a retry that falls due while
-- the dispatcher is down still happens after it restarts. lease_until lets several
-- dispatcher replicas share the work and recovers a claim held by a crashed one.
CREATE TABLE deliveries (
    accept_seqno   text PRIMARY KEY REFERENCES requests (accept_seqno),
    status         text NOT NULL DEFAULT 'PENDING',   -- PENDING, DELIVERED, FAILED
    attempts       int  NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING';

CREATE TABLE delivery_attempts (
    id             bigserial PRIMARY KEY,
    accept_seqno   text NOT NULL REFERENCES requests (accept_seqno),
    attempt        int  NOT NULL,
    started_at     timestamptz NOT NULL,
    duration_ms    int  NOT NULL,
    http_status    int,
    outcome        text NOT NULL,                      -- success, failure
    error          text,
    UNIQUE (accept_seqno, attempt)
);
