-- Re-drive (issue 13): a request that stays ACCEPTED or PROCESSING without progress is published again.
-- updated_at moves on every transition and on the orchestrator's heartbeat; redrives counts re-publications.
ALTER TABLE requests ADD COLUMN redrives int NOT NULL DEFAULT 0;
CREATE INDEX requests_in_flight ON requests (updated_at) WHERE state IN ('ACCEPTED', 'PROCESSING');
