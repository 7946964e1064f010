//! Black-box tests of `tributary capture` against a real Postgres: the events it prints
//! for inserts, updates, deletes and truncates, TOAST, and schema changes mid-stream.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::capture::{Capture, on_topic};
use support::pg::PgCluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(60);

fn values(lines: &[&Value], field: &str) -> Vec<Value> {
    lines.iter().map(|l| l["value"][field].clone()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn composite_key_changes_carry_op_key_before_after_and_source() {
    let pg = PgCluster::start();
    let db = pg.create_db("shop").await;
    db.batch_execute(
        "CREATE TABLE orders (region text, id int, qty int NOT NULL, note text, PRIMARY KEY (region, id));
         CREATE TABLE audit (id int PRIMARY KEY, v text, n int);
         ALTER TABLE audit REPLICA IDENTITY FULL;",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("ops", "shop", json!({"skipped.operations": "none"}));
    let mut cap = Capture::start(work.path(), &connector);
    wait_active(&db, "ops_slot", T).await;

    let before_commit = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let row = db
        .query_one(
            "WITH a AS (INSERT INTO orders VALUES ('eu', 1, 5, 'first'), ('eu', 2, 7, NULL) RETURNING 1)
             SELECT txid_current()::bigint",
            &[],
        )
        .await
        .unwrap();
    let insert_xid: i64 = row.get(0);
    db.batch_execute(
        "UPDATE orders SET qty = 6 WHERE region = 'eu' AND id = 1;
         UPDATE orders SET region = 'us' WHERE region = 'eu' AND id = 1;
         DELETE FROM orders WHERE region = 'eu' AND id = 2;
         INSERT INTO audit VALUES (1, 'a', 10);
         UPDATE audit SET v = 'b' WHERE id = 1;
         DELETE FROM audit WHERE id = 1;
         TRUNCATE orders;",
    )
    .await
    .unwrap();

    // orders: c, c, u, (key change) d + tombstone + c, d + tombstone, t = 9 lines;
    // audit: c, u, d + tombstone = 4 lines.
    let lines = cap.wait_lines(13, T).await;
    let orders = on_topic(&lines, "cdc.public.orders");
    let audit = on_topic(&lines, "cdc.public.audit");
    let ops: Vec<Value> = orders.iter().map(|l| l["value"]["op"].clone()).collect();
    assert_eq!(
        ops,
        vec![
            json!("c"),
            json!("c"),
            json!("u"),
            json!("d"),
            Value::Null,
            json!("c"),
            json!("d"),
            Value::Null,
            json!("t")
        ],
        "orders events: {orders:#?}"
    );

    // Inserts: key is the composite primary key, after is the row, source is complete.
    let first = orders[0];
    assert_eq!(first["key"], json!({"region": "eu", "id": 1}));
    assert_eq!(first["value"]["before"], Value::Null);
    assert_eq!(
        first["value"]["after"],
        json!({"region": "eu", "id": 1, "qty": 5, "note": "first"})
    );
    let src = &first["value"]["source"];
    assert_eq!(src["connector"], "postgresql");
    assert_eq!(src["name"], "cdc");
    assert_eq!(src["db"], "shop");
    assert_eq!(src["schema"], "public");
    assert_eq!(src["table"], "orders");
    assert_eq!(src["snapshot"], "false");
    assert_eq!(src["txId"], json!(insert_xid));
    assert!(src["lsn"].as_i64().unwrap() > 0);
    let ts = src["ts_ms"].as_i64().unwrap();
    assert!(
        (before_commit - 5_000..before_commit + 60_000).contains(&ts),
        "commit ts_ms {ts} not near {before_commit}"
    );
    assert_eq!(orders[1]["value"]["source"]["txId"], json!(insert_xid));
    assert!(
        orders[1]["value"]["source"]["lsn"].as_i64() > src["lsn"].as_i64(),
        "LSNs increase within a transaction"
    );
    assert_eq!(orders[1]["value"]["after"]["note"], Value::Null);

    // Update with default identity: no before image.
    assert_eq!(orders[2]["key"], json!({"region": "eu", "id": 1}));
    assert_eq!(orders[2]["value"]["before"], Value::Null);
    assert_eq!(orders[2]["value"]["after"]["qty"], 6);
    assert_ne!(orders[2]["value"]["source"]["txId"], json!(insert_xid));

    // A primary-key change is a delete of the old key, its tombstone, and a create.
    assert_eq!(orders[3]["key"], json!({"region": "eu", "id": 1}));
    assert_eq!(orders[3]["value"]["before"]["region"], "eu");
    assert_eq!(orders[4]["key"], json!({"region": "eu", "id": 1}));
    assert_eq!(orders[4]["value"], Value::Null);
    assert_eq!(orders[5]["key"], json!({"region": "us", "id": 1}));
    assert_eq!(orders[5]["value"]["after"]["qty"], 6);

    // Delete with default identity: before carries the key; then a tombstone.
    assert_eq!(orders[6]["key"], json!({"region": "eu", "id": 2}));
    assert_eq!(orders[6]["value"]["before"]["region"], "eu");
    assert_eq!(orders[6]["value"]["before"]["id"], 2);
    assert_eq!(orders[6]["value"]["after"], Value::Null);
    assert_eq!(orders[7]["key"], json!({"region": "eu", "id": 2}));
    assert_eq!(orders[7]["value"], Value::Null);

    // Truncate: no key, no row images.
    assert_eq!(orders[8]["key"], Value::Null);
    assert_eq!(orders[8]["value"]["before"], Value::Null);
    assert_eq!(orders[8]["value"]["after"], Value::Null);
    assert_eq!(orders[8]["value"]["source"]["table"], "orders");

    // REPLICA IDENTITY FULL: updates and deletes carry the full before image.
    assert_eq!(
        values(&audit, "op"),
        [json!("c"), json!("u"), json!("d"), Value::Null]
    );
    assert_eq!(
        audit[1]["value"]["before"],
        json!({"id": 1, "v": "a", "n": 10})
    );
    assert_eq!(
        audit[1]["value"]["after"],
        json!({"id": 1, "v": "b", "n": 10})
    );
    assert_eq!(
        audit[2]["value"]["before"],
        json!({"id": 1, "v": "b", "n": 10})
    );
    assert_eq!(audit[3]["key"], json!({"id": 1}));
    assert_eq!(audit[3]["value"], Value::Null);

    let (status, _) = cap.stop();
    assert!(status.success(), "capture exits 0 on SIGINT");
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_toast_column_carries_the_placeholder() {
    let pg = PgCluster::start();
    let db = pg.create_db("toast").await;
    db.batch_execute(
        "CREATE TABLE docs (id int PRIMARY KEY, title text, body text, blob bytea);
         ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
         ALTER TABLE docs ALTER COLUMN blob SET STORAGE EXTERNAL;",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("toast", "toast", json!({}));
    let mut cap = Capture::start(work.path(), &connector);
    wait_active(&db, "toast_slot", T).await;
    db.batch_execute(
        "INSERT INTO docs VALUES (1, 't', repeat('x', 100000), decode(repeat('ab', 50000), 'hex'));
         UPDATE docs SET title = 'changed' WHERE id = 1;",
    )
    .await
    .unwrap();
    let lines = cap.wait_lines(2, T).await;
    let created = &lines[0]["value"]["after"];
    assert_eq!(created["body"].as_str().unwrap().len(), 100_000);
    let updated = &lines[1]["value"];
    assert_eq!(updated["op"], "u");
    assert_eq!(updated["after"]["title"], "changed");
    assert_eq!(updated["after"]["body"], "__debezium_unavailable_value");
    // bytea renders as base64 of the placeholder's bytes.
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(updated["after"]["blob"].as_str().unwrap())
        .unwrap();
    assert_eq!(blob, b"__debezium_unavailable_value");
    // A NULL stays NULL, never the placeholder.
    db.batch_execute("UPDATE docs SET body = NULL WHERE id = 1")
        .await
        .unwrap();
    let lines = cap.wait_lines(3, T).await;
    assert_eq!(lines[2]["value"]["after"]["body"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_changes_mid_stream_change_the_event_shape() {
    let pg = PgCluster::start();
    let db = pg.create_db("ddl").await;
    db.batch_execute("CREATE TABLE items (id int PRIMARY KEY, name text, price int)")
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("ddl", "ddl", json!({}));
    let mut cap = Capture::start(work.path(), &connector);
    // DDL during the snapshot would race its reads (a dropped column read by COPY): the
    // changes start once the stream does.
    cap.wait_log("streaming started", T).await;
    db.batch_execute(
        "INSERT INTO items VALUES (1, 'a', 10);
         ALTER TABLE items ADD COLUMN color text NOT NULL DEFAULT 'red';
         INSERT INTO items VALUES (2, 'b', 20, 'blue');
         ALTER TABLE items DROP COLUMN name;
         INSERT INTO items VALUES (3, 30, 'green');
         ALTER TABLE items ALTER COLUMN price TYPE numeric(10,2);
         INSERT INTO items VALUES (4, 40.5, 'pink');
         UPDATE items SET price = 1.25 WHERE id = 1;",
    )
    .await
    .unwrap();
    let lines = cap.wait_lines(5, T).await;
    let after: Vec<&Value> = lines.iter().map(|l| &l["value"]["after"]).collect();
    assert_eq!(after[0], &json!({"id": 1, "name": "a", "price": 10}));
    assert_eq!(
        after[1],
        &json!({"id": 2, "name": "b", "price": 20, "color": "blue"})
    );
    assert_eq!(after[2], &json!({"id": 3, "price": 30, "color": "green"}));
    // numeric(10,2) is Debezium's Decimal: base64 of the unscaled big-endian integer.
    // 40.50 -> 4050 = 0x0FD2.
    assert_eq!(
        after[3],
        &json!({"id": 4, "price": "D9I=", "color": "pink"})
    );
    // 1.25 -> 125 = 0x7D.
    assert_eq!(after[4], &json!({"id": 1, "price": "fQ==", "color": "red"}));
}
