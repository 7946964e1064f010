-- Workload for v2_stream.hex: runs after v1.sql, decoded through its own slot s2
-- with logical_decoding_work_mem = 64kB so that big transactions are streamed.
CREATE TABLE bulk (id int PRIMARY KEY, payload text);
ALTER PUBLICATION p ADD TABLE bulk;
SELECT pg_create_logical_replication_slot('s2', 'pgoutput');

BEGIN;                                                   -- streamed, then committed
INSERT INTO bulk SELECT g, 'row ' || g FROM generate_series(1, 1500) g;
SELECT pg_logical_emit_message(true, 'tributary', 'inside a stream');
COMMIT;
BEGIN;                                                   -- streamed, then rolled back
INSERT INTO bulk SELECT g, 'row ' || g FROM generate_series(2001, 3500) g;
ROLLBACK;
BEGIN;                                                   -- streamed subtransaction rolled back
INSERT INTO bulk VALUES (5000, 'kept');
SAVEPOINT sp;
INSERT INTO bulk SELECT g, 'row ' || g FROM generate_series(6001, 7500) g;
ROLLBACK TO SAVEPOINT sp;
INSERT INTO bulk VALUES (5001, 'kept too');
COMMIT;
