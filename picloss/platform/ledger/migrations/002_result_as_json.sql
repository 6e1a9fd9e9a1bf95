-- The stored callback body keeps its key order (json keeps the text; jsonb sorts keys), so callbacks
-- and query answers read appid, mchid, nonce, ... in the protocol's order.
ALTER TABLE requests ALTER COLUMN result TYPE json USING result::json;
