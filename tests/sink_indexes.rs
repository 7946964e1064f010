//! The embedded index's life cycle over REST: an index in a job's own `index.dir` is listed
//! and searched like the others; `DELETE /indexes/{name}` is refused while the job writes
//! it, removes it once the job is stopped, and a reset of the job's offsets rebuilds it.

mod support;

use std::time::Duration;

use serde_json::json;
use support::api::{assert_error, connector_path as path, delete, get, post, put, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::wait_for;

const T: Duration = Duration::from_secs(60);

fn docs(api: &str, index: &str) -> Option<u64> {
    get(api, "/indexes")
        .json()
        .as_array()?
        .iter()
        .find(|i| i["name"] == index)
        .and_then(|i| i["docs"].as_u64())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_in_its_own_dir_is_served_deleted_and_rebuilt() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let own = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.clone();
    let source = pg.connector("pg", "app", json!({"table.include.list": "public.items"}));
    assert_eq!(post(&api, "/connectors", &source).status, 201);
    let job = json!({"name": "search", "config": {
        "connector.class": "io.tributary.sink.SearchSinkConnector",
        "topics": "cdc.public.items",
        "index.dir": own.path().to_str().unwrap(),
        "batch.max.wait.ms": "20",
    }});
    let r = post(&api, "/connectors", &job);
    assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    wait_for(
        "the index in its own dir to hold the table",
        T,
        async || (docs(&api, "public.items") == Some(50)).then_some(()),
    )
    .await;
    let hits = get(&api, "/indexes/public.items/search?q=item").json();
    assert_eq!(hits["total"], json!(50), "{hits}");
    assert!(
        std::fs::read_dir(own.path()).unwrap().count() > 0,
        "the index lives in index.dir"
    );

    // Written by a running job: refused, naming the job.
    let refused = assert_error(&delete(&api, "/indexes/public.items"), 409);
    assert!(refused.contains("search"), "{refused}");
    assert_error(&delete(&api, "/indexes/nope"), 404);

    // Stopped: deleted, files and all.
    assert_eq!(put(&api, &path("search", "/stop"), None).status, 204);
    wait_status(&api, "search", "STOPPED", &[], T).await;
    let r = delete(&api, "/indexes/public.items");
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(docs(&api, "public.items"), None);
    assert_error(&get(&api, "/indexes/public.items/search?q=item"), 404);
    assert_eq!(std::fs::read_dir(own.path()).unwrap().count(), 0);

    // A reset of the job's offsets replays its topic into a new index.
    assert_eq!(delete(&api, &path("search", "/offsets")).status, 200);
    assert_eq!(put(&api, &path("search", "/resume"), None).status, 202);
    wait_for("the index to be rebuilt", T, async || {
        (docs(&api, "public.items") == Some(50)).then_some(())
    })
    .await;
}
