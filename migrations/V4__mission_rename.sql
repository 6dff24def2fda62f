ALTER TABLE body_upload_queue RENAME COLUMN feature_slug TO mission_slug;
ALTER TABLE body_upload_queue RENAME COLUMN mission_key TO mission_type;
