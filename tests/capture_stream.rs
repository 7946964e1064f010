//! Streaming at scale and acknowledgement: a huge transaction in bounded memory, and a
//! slot that never moves past what the consumer acknowledged.

mod support;

use std::time::Duration;

use serde_json::json;
use support::capture::Capture;
use support::pg::PgCluster;
use support::wait_for;

const LONG: Duration = Duration::from_secs(900);

#[tokio::test(flavor = "multi_thread")]
async fn a_two_million_row_transaction_streams_with_bounded_memory() {
    let pg = PgCluster::start_with(support::pg::PgConfig {
        // Small decoding memory so Postgres streams the transaction in blocks (protocol 2).
        conf: vec!["logical_decoding_work_mem = '1MB'".into()],
        ..Default::default()
    });
    let db = pg.create_db("bigtx").await;
    db.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, pad text NOT NULL)")
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut cap = Capture::start_with(
        work.path(),
        &pg.connector("bigtx", "bigtx", json!({})),
        false,
    );
    wait_for("the slot to become active", LONG, async || {
        let row = db
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'bigtx_slot'",
                &[],
            )
            .await
            .ok()??;
        row.get::<_, bool>(0).then_some(())
    })
    .await;
    db.batch_execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000000) g")
        .await
        .unwrap();
    cap.wait_lines(2_000_000, LONG).await;
    let rss = cap.peak_rss();
    eprintln!(
        "peak RSS during the 2M-row transaction: {} MB",
        rss / (1 << 20)
    );
    assert!(rss > 0, "RSS was measured");
    assert!(rss < 300 << 20, "peak RSS {} MB is over 300 MB", rss >> 20);
    let (status, _) = cap.finish_and_status();
    assert!(status.success());
}
