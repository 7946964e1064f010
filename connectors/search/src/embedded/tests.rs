//! The embedded sink against real tantivy indexes in temporary directories.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};
use tributary_core::{PartitionOffset, RowKey, Sink, SinkError};

use super::*;
use crate::SearchSinkConfig;
use crate::testing::{delete, doc, pos, table, truncate, upsert, upsert_doc, with_unchanged};

mod columns;
mod ordering;

pub(super) fn config(job: &str) -> SearchSinkConfig {
    let props = json!({"index.writer.memory.mb": 15});
    SearchSinkConfig::parse(job, props.as_object().unwrap(), &[]).unwrap()
}

pub(super) fn offsets(list: &[(&str, i32, i64)]) -> Vec<PartitionOffset> {
    list.iter()
        .map(|(t, p, n)| PartitionOffset {
            topic: t.to_string(),
            partition: *p,
            next: *n,
        })
        .collect()
}

/// Every live document of an index, by id.
pub(super) fn live(
    registry: &Arc<IndexRegistry>,
    index: &str,
) -> BTreeMap<String, Map<String, Json>> {
    let results = registry.search(index, "*", MAX).unwrap();
    assert_eq!(results.total as usize, results.hits.len());
    results.hits.into_iter().map(|h| (h.id, h.doc)).collect()
}

const MAX: usize = 10_000;

pub(super) fn ids(registry: &Arc<IndexRegistry>, index: &str, query: &str) -> Vec<String> {
    let mut ids: Vec<String> = registry
        .search(index, query, MAX)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn upserts_deletes_and_truncates_show_in_search_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    assert_eq!(sink.stored_offsets(), None, "a new job holds no offsets");
    let items = table("public", "items");
    let batch = [
        upsert(&items, 1, "red apple", pos(10, 10)),
        upsert(&items, 2, "green pear", pos(11, 11)),
        upsert(&items, 3, "yellow banana", pos(12, 12)),
    ];
    sink.write(&batch, &offsets(&[("cdc.public.items", 0, 3)]))
        .await
        .unwrap();

    let hits = registry.search("public.items", "apple", 10).unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(hits.hits[0].id, "1");
    assert!(hits.hits[0].score > 0.0);
    assert_eq!(
        Json::Object(hits.hits[0].doc.clone()),
        json!({"id": 1, "title": "red apple", "price": 9.5, "in_stock": true, "tags": ["a"]})
    );
    assert_eq!(ids(&registry, "public.items", "pear OR banana"), ["2", "3"]);
    let list = registry.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].name.as_str(), list[0].docs), ("public.items", 3));
    assert_eq!(list[0].writer.as_deref(), Some("job"));
    let kinds: Vec<(&str, &str)> = list[0]
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("id", "i64"),
            ("in_stock", "bool"),
            ("price", "f64"),
            // An array column has no typed field; its items are searchable in `__cols`.
            ("tags", "text"),
            ("title", "text")
        ]
    );

    sink.write(
        &[delete(&items, 2, pos(20, 20))],
        &offsets(&[("cdc.public.items", 0, 4)]),
    )
    .await
    .unwrap();
    assert_eq!(ids(&registry, "public.items", "pear"), Vec::<String>::new());
    assert_eq!(ids(&registry, "public.items", "*"), ["1", "3"]);
    assert_eq!(registry.info("public.items").unwrap().docs, 2);

    let batch = [
        truncate(&items, pos(30, 30)),
        upsert(&items, 4, "blue plum", pos(31, 31)),
        upsert(&items, 1, "red apple", pos(10, 10)), // replayed from before the truncate
    ];
    sink.write(&batch, &offsets(&[("cdc.public.items", 0, 7)]))
        .await
        .unwrap();
    assert_eq!(ids(&registry, "public.items", "*"), ["4"]);
    assert_eq!(registry.info("public.items").unwrap().docs, 1);
    assert_eq!(
        sink.stored_offsets(),
        Some(offsets(&[("cdc.public.items", 0, 7)]))
    );
}

#[tokio::test]
async fn offsets_and_documents_survive_reopen_and_an_uncommitted_batch_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let items = table("public", "items");
    {
        let registry = IndexRegistry::open(dir.path()).unwrap();
        let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
        sink.write(
            &[upsert(&items, 1, "red apple", pos(10, 10))],
            &offsets(&[("cdc.public.items", 0, 5), ("cdc.public.items", 1, 2)]),
        )
        .await
        .unwrap();
        // The process dies after staging the next batch, before its commit.
        sink.stage_without_commit(&[
            upsert(&items, 99, "lost", pos(11, 11)),
            delete(&items, 1, pos(12, 12)),
            truncate(&items, pos(13, 13)),
        ])
        .unwrap();
    }
    let registry = IndexRegistry::open(dir.path()).unwrap();
    assert_eq!(registry.names(), ["public.items"]);
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    assert_eq!(
        sink.stored_offsets(),
        Some(offsets(&[
            ("cdc.public.items", 0, 5),
            ("cdc.public.items", 1, 2)
        ]))
    );
    assert_eq!(ids(&registry, "public.items", "*"), ["1"]);
    // The floor of the lost truncate was not committed either: the replay applies.
    sink.write(
        &[upsert(&items, 99, "found", pos(11, 11))],
        &offsets(&[("cdc.public.items", 0, 6)]),
    )
    .await
    .unwrap();
    assert_eq!(ids(&registry, "public.items", "*"), ["1", "99"]);
    let other = TantivySink::open(&config("other-job"), registry.clone()).unwrap();
    assert_eq!(other.stored_offsets(), None, "offsets are per job");
}

#[tokio::test]
async fn several_indexes_store_per_partition_minimum_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (table("public", "a"), table("public", "b"));
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    sink.set_payload_refresh(std::time::Duration::from_secs(3600));
    sink.write(
        &[upsert(&a, 1, "x", pos(1, 1))],
        &offsets(&[("cdc.public.a", 0, 1), ("cdc.public.b", 0, 0)]),
    )
    .await
    .unwrap();
    sink.write(
        &[upsert(&b, 1, "y", pos(2, 2)), upsert(&b, 2, "z", pos(3, 3))],
        &offsets(&[("cdc.public.b", 0, 2), ("cdc.public.c", 0, 9)]),
    )
    .await
    .unwrap();
    // Index a committed before b's records were consumed: b's partition restarts where a
    // had it, and c, which a has never heard of, from its start.
    let expected = offsets(&[
        ("cdc.public.a", 0, 1),
        ("cdc.public.b", 0, 0),
        ("cdc.public.c", 0, 0),
    ]);
    assert_eq!(sink.stored_offsets(), Some(expected.clone()));
    drop(sink);
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    assert_eq!(sink.stored_offsets(), Some(expected));
    // An idle index is committed once the refresh interval has passed, and catches up
    // (the consumer has read c again from its start: nothing of it was for the indexes).
    sink.set_payload_refresh(std::time::Duration::ZERO);
    sink.write(
        &[],
        &offsets(&[("cdc.public.b", 0, 3), ("cdc.public.c", 0, 9)]),
    )
    .await
    .unwrap();
    assert_eq!(
        sink.stored_offsets(),
        Some(offsets(&[
            ("cdc.public.a", 0, 1),
            ("cdc.public.b", 0, 3),
            ("cdc.public.c", 0, 9)
        ]))
    );
}

#[tokio::test]
async fn a_crash_between_two_index_commits_replays_what_the_second_missed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (table("public", "a"), table("public", "b"));
    {
        let registry = IndexRegistry::open(dir.path()).unwrap();
        let mut sink = TantivySink::open(&config("job"), registry).unwrap();
        sink.write(
            &[upsert(&a, 1, "x", pos(1, 1))],
            &offsets(&[("cdc.public.a", 0, 1)]),
        )
        .await
        .unwrap();
        // Index a commits this batch; the process dies before the new index b does.
        sink.crash_before_commit(1);
        let batch = [upsert(&a, 2, "y", pos(2, 2)), upsert(&b, 1, "z", pos(3, 3))];
        let err = sink
            .write(
                &batch,
                &offsets(&[("cdc.public.a", 0, 2), ("cdc.public.b", 0, 1)]),
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "simulated crash");
    }
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    // b holds the job's offsets from before the batch, so both partitions go back.
    assert_eq!(
        sink.stored_offsets(),
        Some(offsets(&[("cdc.public.a", 0, 1), ("cdc.public.b", 0, 0)]))
    );
    assert_eq!(ids(&registry, "public.a", "*"), ["1", "2"]);
    assert_eq!(ids(&registry, "public.b", "*"), Vec::<String>::new());
    let replay = [upsert(&a, 2, "y", pos(2, 2)), upsert(&b, 1, "z", pos(3, 3))];
    sink.write(
        &replay,
        &offsets(&[("cdc.public.a", 0, 2), ("cdc.public.b", 0, 1)]),
    )
    .await
    .unwrap();
    assert_eq!(ids(&registry, "public.b", "z"), ["1"]);
}

#[tokio::test]
async fn a_stopped_jobs_offsets_can_be_read_and_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    let t = table("public", "items");
    let stored = offsets(&[("cdc.public.items", 0, 1)]);
    sink.write(&[upsert(&t, 1, "a", pos(1, 1))], &stored)
        .await
        .unwrap();
    let err = registry.forget_job("job").unwrap_err();
    assert!(err.to_string().contains("stop the job first"), "{err}");
    drop(sink);
    assert_eq!(registry.job_offsets("job"), Some(stored));
    assert_eq!(registry.job_offsets("other"), None);
    let patched = offsets(&[("cdc.public.items", 0, 0), ("cdc.public.items", 1, 4)]);
    crate::set_stored_offsets(&config("job"), &registry, "job", &patched).unwrap();
    assert_eq!(registry.job_offsets("job"), Some(patched));
    assert_eq!(registry.set_job_offsets("other", &[]).unwrap(), 0);
    assert_eq!(registry.forget_job("job").unwrap(), 1);
    assert_eq!(registry.job_offsets("job"), None);
    let reopened = IndexRegistry::open(dir.path()).unwrap();
    assert_eq!(reopened.job_offsets("job"), None);
    assert_eq!(ids(&reopened, "public.items", "*"), ["1"]);
    let sink = TantivySink::open(&config("job"), reopened).unwrap();
    assert_eq!(sink.stored_offsets(), None);
}

#[tokio::test]
async fn a_job_with_its_own_index_dir_writes_there() {
    let (shared, own) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let registry = IndexRegistry::open(shared.path()).unwrap();
    let mut config = config("job");
    config.index_dir = Some(own.path().to_path_buf());
    let mut sink = crate::open(&config, &registry).await.unwrap();
    sink.write(&[upsert(&table("public", "items"), 1, "a", pos(1, 1))], &[])
        .await
        .unwrap();
    assert!(registry.names().is_empty());
    drop(sink);
    let own = IndexRegistry::open(own.path()).unwrap();
    assert_eq!(ids(&own, "public.items", "*"), ["1"]);
}

#[tokio::test]
async fn an_index_first_seen_through_a_delete_refuses_older_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    let t = table("public", "items");
    sink.write(&[delete(&t, 1, pos(50, 50))], &[])
        .await
        .unwrap();
    sink.write(
        &[
            upsert(&t, 1, "old apple", pos(40, 40)),
            upsert(&t, 2, "new pear", pos(51, 51)),
        ],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(ids(&registry, "public.items", "*"), ["2"]);
    // Without typed fields, text is still found through `__extra`, and each column
    // through `__cols`.
    assert_eq!(ids(&registry, "public.items", "pear"), ["2"]);
    assert_eq!(ids(&registry, "public.items", "title:pear"), ["2"]);
    assert!(ids(&registry, "public.items", "title:apple").is_empty());
    let fields = registry.info("public.items").unwrap().fields;
    assert!(
        fields.iter().any(|f| f.name == "title" && f.kind == "text"),
        "{fields:?}"
    );
}

#[tokio::test]
async fn one_job_at_a_time_writes_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let t = table("public", "items");
    let mut first = TantivySink::open(&config("first"), registry.clone()).unwrap();
    first
        .write(&[upsert(&t, 1, "a", pos(1, 1))], &[])
        .await
        .unwrap();
    let mut second = TantivySink::open(&config("second"), registry.clone()).unwrap();
    let err = second
        .write(&[upsert(&t, 2, "b", pos(2, 2))], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
    assert!(err.to_string().contains("\"first\""), "{err}");
    drop(first);
    second
        .write(&[upsert(&t, 2, "b", pos(2, 2))], &[])
        .await
        .unwrap();
    assert_eq!(ids(&registry, "public.items", "*"), ["1", "2"]);
}

#[tokio::test]
async fn records_without_a_key_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry).unwrap();
    let t = table("public", "logs");
    let batch = [upsert_doc(
        &t,
        RowKey(vec![]),
        doc(json!({"line": "x"})),
        pos(1, 1),
    )];
    let err = sink.write(&batch, &[]).await.unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
    assert!(err.to_string().contains("public.logs has no key"), "{err}");
}

#[tokio::test]
async fn index_names_map_to_safe_directories_and_back() {
    for (name, dir) in [
        ("public.items", "public.items"),
        ("../etc", "%2E.%2Fetc"),
        (".hidden", "%2Ehidden"),
        ("a b/é", "a%20b%2F%C3%A9"),
    ] {
        assert_eq!(encode_dir_name(name).unwrap(), dir);
        assert_eq!(decode_dir_name(dir).as_deref(), Some(name));
    }
    for dir in ["..", ".", "a%2", "a%zz", "a b", "", "%2e.x"] {
        assert_eq!(decode_dir_name(dir), None, "{dir:?}");
    }
    assert!(encode_dir_name("").is_err());
    assert!(encode_dir_name(&"é".repeat(40)).is_err());

    let root = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(root.path().join("indexes")).unwrap();
    let mut config = config("job");
    config.index_name = "../{table}".into();
    let mut sink = TantivySink::open(&config, registry.clone()).unwrap();
    sink.write(&[upsert(&table("public", "x"), 1, "a", pos(1, 1))], &[])
        .await
        .unwrap();
    assert_eq!(registry.names(), ["../x"]);
    assert!(
        root.path()
            .join("indexes")
            .join("%2E.%2Fx")
            .join("meta.json")
            .is_file()
    );
    let reopened = IndexRegistry::open(root.path().join("indexes")).unwrap();
    assert_eq!(reopened.names(), ["../x"]);
}

#[tokio::test]
async fn a_directory_that_is_not_an_index_is_skipped_and_named_on_write() {
    let root = tempfile::tempdir().unwrap();
    let broken = root.path().join("public.items");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("meta.json"), "not json").unwrap();
    std::fs::create_dir_all(root.path().join("stray dir")).unwrap();
    let registry = IndexRegistry::open(root.path()).unwrap();
    assert!(registry.names().is_empty());
    let mut sink = TantivySink::open(&config("job"), registry).unwrap();
    let err = sink
        .write(&[upsert(&table("public", "items"), 1, "a", pos(1, 1))], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
    assert!(err.to_string().contains("move the directory away"), "{err}");
}

#[test]
fn the_registry_is_shared_across_threads_and_sinks_move_between_them() {
    fn shared<T: Send + Sync>() {}
    fn moved<T: Send>() {}
    shared::<IndexRegistry>();
    moved::<crate::SearchSink>();
}

#[tokio::test]
async fn unchanged_columns_keep_the_indexed_value_and_stay_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    let items = table("public", "items");
    let row = |id: i64, title: &str| json!({"id": id, "title": title, "price": 9.5, "in_stock": true, "tags": [format!("needle{id}")]});
    let at = |n: u64| offsets(&[("cdc.public.items", 0, n as i64)]);
    sink.write(
        &[
            upsert_doc(
                &items,
                RowKey(vec![("id".into(), json!(1))]),
                doc(row(1, "red apple")),
                pos(10, 1),
            ),
            upsert_doc(
                &items,
                RowKey(vec![("id".into(), json!(2))]),
                doc(row(2, "green pear")),
                pos(10, 2),
            ),
        ],
        &at(2),
    )
    .await
    .unwrap();
    // Row 1 updated in a batch of its own (merged from the commit), row 2 twice in one
    // batch (the second merged from the first), row 3 never seen (left out, counted).
    let update = |id: i64, title: &str, p| with_unchanged(upsert(&items, id, title, p), &["tags"]);
    sink.write(&[update(1, "second apple", pos(20, 1))], &at(3))
        .await
        .unwrap();
    sink.write(
        &[
            update(2, "second pear", pos(30, 1)),
            update(2, "third pear", pos(30, 2)),
            update(3, "plum", pos(30, 3)),
        ],
        &at(6),
    )
    .await
    .unwrap();
    let docs = live(&registry, "public.items");
    assert_eq!(Json::Object(docs["1"].clone()), row(1, "second apple"));
    assert_eq!(Json::Object(docs["2"].clone()), row(2, "third pear"));
    assert_eq!(docs["3"].get("tags"), None);
    assert_eq!(
        ids(&registry, "public.items", "needle1 OR needle2"),
        ["1", "2"]
    );
    assert_eq!(sink.values_left_out(), 1);

    // A replay from the start changes nothing.
    let replay = [
        upsert_doc(
            &items,
            RowKey(vec![("id".into(), json!(1))]),
            doc(row(1, "red apple")),
            pos(10, 1),
        ),
        update(1, "second apple", pos(20, 1)),
        update(2, "second pear", pos(30, 1)),
        update(2, "third pear", pos(30, 2)),
    ];
    sink.write(&replay, &at(6)).await.unwrap();
    assert_eq!(live(&registry, "public.items"), docs);
}

#[tokio::test]
async fn indexes_of_another_dir_are_served_and_deleted_through_the_daemons_registry() {
    let dir = tempfile::tempdir().unwrap();
    let own = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let other = registry.at(own.path()).unwrap();
    assert!(
        Arc::ptr_eq(&other, &registry.at(own.path()).unwrap()),
        "opened once"
    );
    assert!(Arc::ptr_eq(&registry, &registry.at(dir.path()).unwrap()));
    let mut sink = TantivySink::open(&config("job"), other.clone()).unwrap();
    let items = table("public", "items");
    sink.write(
        &[upsert(&items, 1, "red apple", pos(10, 10))],
        &offsets(&[("cdc.public.items", 0, 1)]),
    )
    .await
    .unwrap();
    assert_eq!(ids(&registry, "public.items", "apple"), ["1"]);
    assert_eq!(registry.list().unwrap().len(), 1);
    let busy = registry.delete("public.items").unwrap_err();
    assert_eq!(busy.http_status(), 409, "{busy}");
    assert!(busy.to_string().contains("job"), "{busy}");
    drop(sink);
    registry.delete("public.items").unwrap();
    assert_eq!(registry.list().unwrap(), []);
    assert_eq!(std::fs::read_dir(own.path()).unwrap().count(), 0);
    assert_eq!(
        registry.delete("public.items").unwrap_err().http_status(),
        404
    );
}
