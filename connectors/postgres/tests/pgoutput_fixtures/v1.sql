-- Workload for v1.hex and v1_binary.hex: run against a fresh cluster with wal_level=logical.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE orders (
    tenant_id  int,
    order_id   bigint,
    sku        varchar(20) NOT NULL,
    amount     numeric(10, 2),
    placed_at  timestamptz,
    feeling    mood,
    note       text,
    PRIMARY KEY (tenant_id, order_id)
);
ALTER TABLE orders ALTER COLUMN note SET STORAGE EXTERNAL; -- force out-of-line TOAST
CREATE TABLE audit_log (id serial, who text, what text);
ALTER TABLE audit_log REPLICA IDENTITY FULL;
CREATE PUBLICATION p FOR TABLE orders, audit_log;
SELECT pg_create_logical_replication_slot('s', 'pgoutput');

INSERT INTO orders VALUES (1, 100, 'SKU-1', 12.50, '2024-05-06 07:08:09.123456+00', 'happy',
    repeat('toast me ', 1000));
UPDATE orders SET amount = 13.75 WHERE tenant_id = 1 AND order_id = 100;  -- note stays 'u'
UPDATE orders SET order_id = 101 WHERE tenant_id = 1 AND order_id = 100;  -- old key 'K'
DELETE FROM orders WHERE tenant_id = 1 AND order_id = 101;                -- old key 'K'
INSERT INTO audit_log (who, what) VALUES ('alice', NULL);
UPDATE audit_log SET what = 'login' WHERE who = 'alice';                  -- old full 'O'
DELETE FROM audit_log WHERE who = 'alice';                                -- old full 'O'
TRUNCATE audit_log RESTART IDENTITY;
SELECT pg_logical_emit_message(true, 'tributary', 'transactional hello');
SELECT pg_logical_emit_message(false, 'tributary', 'non-transactional hello');
SELECT pg_replication_origin_create('upstream');
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-01 00:00:00+00');
INSERT INTO orders VALUES (2, 200, 'SKU-2', NULL, NULL, NULL, 'short');
COMMIT;
SELECT pg_replication_origin_session_reset();
