ALTER TABLE queue ADD COLUMN coalesce_key TEXT;
CREATE INDEX idx_coalesce_key ON queue(coalesce_key);
