#!/bin/bash
# PostgreSQL's floor for one creating PUT at one connection (docs/performance.md, "Issue 24,
# stop 23"): what the database alone takes, with pgbench (libpq, no Kalends), for a creation
# shaped like Kalends' (the calendar's seq bumped, then the object inserted, ~900 bytes):
#   three: BEGIN; bump; insert; COMMIT, each its own round trip;
#   one:   the same in one PL/pgSQL call in autocommit, one round trip (the least possible);
#   one, synchronous_commit = off: that call without waiting for the WAL flush (not durable:
#          only to show the flush's share).
# usage: pg-put-floor.sh [URL-of-a-database-to-create-pgx-in] [seconds]
set -euo pipefail
URL=${1:-postgres://postgres@127.0.0.1:5432/postgres}
SECS=${2:-5}
D=$(mktemp -d)
psql -q "$URL" -c 'DROP DATABASE IF EXISTS pgx' -c 'CREATE DATABASE pgx'
DB=${URL%/*}/pgx
psql -q "$DB" <<'SQL'
CREATE TABLE coll (id bigint PRIMARY KEY, sync_seq bigint NOT NULL DEFAULT 0,
    used_bytes bigint NOT NULL DEFAULT 0, modified_at bigint NOT NULL DEFAULT 0, path text NOT NULL);
CREATE TABLE obj (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES coll (id), name text COLLATE "C" NOT NULL,
    data bytea NOT NULL, etag text, uid text, sync_seq bigint NOT NULL, created_at bigint,
    UNIQUE (collection_id, name), UNIQUE (collection_id, uid));
CREATE INDEX obj_seq ON obj (collection_id, sync_seq);
INSERT INTO coll (id, path) VALUES (1, 'cal');
CREATE FUNCTION create_one(cid bigint, n text, d bytea, e text, u text, t bigint)
RETURNS TABLE (oid bigint, seq bigint) LANGUAGE plpgsql AS $$
DECLARE s bigint;
BEGIN
  PERFORM 1 FROM coll WHERE id = cid FOR NO KEY UPDATE;
  IF EXISTS (SELECT 1 FROM obj WHERE collection_id = cid AND name = n)
     OR EXISTS (SELECT 1 FROM obj WHERE collection_id = cid AND uid = u) THEN
    RETURN;
  END IF;
  UPDATE coll SET sync_seq = sync_seq + 1, modified_at = t, used_bytes = used_bytes + length(d)
    WHERE id = cid RETURNING sync_seq INTO s;
  RETURN QUERY INSERT INTO obj (collection_id, name, data, etag, uid, sync_seq, created_at)
    VALUES (cid, n, d, e, u, s, t) RETURNING id, sync_seq;
END $$;
SQL
cat > $D/three.sql <<'SQL'
\set r random(1, 1000000000)
BEGIN;
UPDATE coll SET sync_seq = sync_seq + 1, modified_at = 5, used_bytes = used_bytes + 900 WHERE id = 1 RETURNING sync_seq, path;
INSERT INTO obj (collection_id, name, data, etag, uid, sync_seq, created_at) SELECT 1, 'n' || :r || '-' || random(), decode(repeat('41', 900), 'hex'), 'e', 'u' || :r || '-' || random(), 7, 5 WHERE NOT EXISTS (SELECT 1 FROM obj WHERE collection_id = 1 AND name = 'x') RETURNING id;
COMMIT;
SQL
cat > $D/one.sql <<'SQL'
\set r random(1, 1000000000)
SELECT * FROM create_one(1, 'm' || :r || '-' || random(), decode(repeat('41', 900), 'hex'), 'e', 'v' || :r || '-' || random(), 5);
SQL
echo 'SELECT 1;' > $D/nop.sql
run() { printf '%-34s' "$1"; shift; "$@" | awk '/latency average/ {l=$4} /^tps/ {printf "%8.0f/s  %s ms\n", $3, l}'; }
for round in 1 2; do
  run "three round trips" pgbench -n -M prepared -c 1 -T "$SECS" -f $D/three.sql "$DB"
  run "one round trip" pgbench -n -M prepared -c 1 -T "$SECS" -f $D/one.sql "$DB"
  run "one, synchronous_commit off" env PGOPTIONS='-c synchronous_commit=off' pgbench -n -M prepared -c 1 -T "$SECS" -f $D/one.sql "$DB"
  run "SELECT 1 (a round trip)" pgbench -n -M prepared -c 1 -T "$SECS" -f $D/nop.sql "$DB"
done
psql -q "$URL" -c 'DROP DATABASE pgx'
rm -rf $D
