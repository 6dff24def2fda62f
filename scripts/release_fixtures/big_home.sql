-- A 1M-row legacy queue DB from the rows a release's own writers put in it
-- (tests/system/live_queue_big.rs). Run on the LEGACY queue.db after `e2e_home.py write`,
-- on a connection that has `temp.want(events, bodies)` (one row: how many events
-- and body uploads the DB is to hold; the test makes them add up to 1,000,000,
-- bodies within the releases' body-queue cap): the first event and the first
-- body upload the release wrote are copied until `queue` holds `events` rows
-- and `body_upload_queue` `bodies` rows, each copy with a new natural key (event_id `big-evt-NNNNNNN`, artifact_path
-- `big/body-NNNNNNN.md`) and otherwise the release's own column values. No column
-- is named but those two and the id (the slug / type column names differ between
-- releases): a copy is `SELECT *` of the seed row, so the tables keep the DDL the
-- release created them with. One transaction: the file is a fixture, nobody else
-- has it open.
BEGIN;

CREATE TEMP TABLE n(i INTEGER PRIMARY KEY);
WITH RECURSIVE c(i) AS (
    SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < (SELECT max(events, bodies) FROM want)
)
INSERT INTO n SELECT i FROM c;

-- events
CREATE TEMP TABLE event_seed AS SELECT * FROM queue ORDER BY id LIMIT 1;
CREATE TEMP TABLE event_copies AS
    SELECT event_seed.* FROM event_seed, n
    WHERE n.i <= (SELECT events FROM want) - (SELECT COUNT(*) FROM queue)
    ORDER BY n.i;
UPDATE event_copies SET
    id = NULL,
    event_id = printf('big-evt-%07d', rowid),
    data = json_set(data, '$.event_id', printf('big-evt-%07d', rowid));
INSERT INTO queue SELECT * FROM event_copies;

-- body uploads
CREATE TEMP TABLE body_seed AS SELECT * FROM body_upload_queue ORDER BY id LIMIT 1;
CREATE TEMP TABLE body_copies AS
    SELECT body_seed.* FROM body_seed, n
    WHERE n.i <= (SELECT bodies FROM want) - (SELECT COUNT(*) FROM body_upload_queue)
    ORDER BY n.i;
UPDATE body_copies SET
    id = NULL,
    artifact_path = printf('big/body-%07d.md', rowid);
INSERT INTO body_upload_queue SELECT * FROM body_copies;

DROP TABLE event_copies;
DROP TABLE body_copies;
DROP TABLE event_seed;
DROP TABLE body_seed;
DROP TABLE n;
COMMIT;
