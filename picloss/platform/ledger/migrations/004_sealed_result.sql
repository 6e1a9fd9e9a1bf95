-- Personal data at rest (issue 23): the stored result is sealed with AES-256-GCM (picloss/platform/ledger/sealing.py).
-- result_sealed = nonce ‖ ciphertext ‖ tag, result_key = the id of the data key that sealed it. The old clear
-- `result` column stays only for rows written before this migration, until `python -m picloss.platform.ledger.reseal`
-- seals them (it then sets result to NULL); nothing writes it any more.
-- finished_at: when the request reached DELIVERED or DELIVERY_FAILED (the retention clock);
-- result_expired_at: when the retention purge deleted the result (the row, states and attempts stay).
ALTER TABLE requests ADD COLUMN result_key text,
                     ADD COLUMN result_sealed bytea,
                     ADD COLUMN finished_at timestamptz,
                     ADD COLUMN result_expired_at timestamptz;
UPDATE requests SET finished_at = updated_at WHERE state IN ('DELIVERED', 'DELIVERY_FAILED');
CREATE INDEX requests_result_retention ON requests (finished_at)
    WHERE finished_at IS NOT NULL AND (result_sealed IS NOT NULL OR result IS NOT NULL);
