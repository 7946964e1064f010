//! Typed fields, composite keys, and columns the index got no typed field for.

use serde_json::json;
use tributary_core::{RowKey, Sink};

use super::{config, ids, live};
use crate::embedded::{IndexRegistry, QueryError, TantivySink};
use crate::testing::{doc, pos, table, upsert_doc};

#[tokio::test]
async fn composite_keys_typed_fields_and_new_columns_are_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    let t = table("shop", "lines");
    let composite = RowKey(vec![
        ("order".into(), json!("o-1")),
        ("line".into(), json!(7)),
    ]);
    let batch = [
        upsert_doc(
            &t,
            composite,
            doc(json!({"id": 5, "title": "wool socks", "price": 9.5, "in_stock": true})),
            pos(1, 1),
        ),
        upsert_doc(
            &t,
            RowKey(vec![("id".into(), json!(6))]),
            // `color`, `weight` and `meta` came with ALTER TABLE after the index was made;
            // `price` as text.
            doc(
                json!({"id": 6, "title": "silk scarf", "price": "42.25", "in_stock": false, "color": "crimson", "weight": 120, "meta": {"size": "large"}}),
            ),
            pos(2, 2),
        ),
    ];
    sink.write(&batch, &[]).await.unwrap();
    let index = "shop.lines";
    assert_eq!(ids(&registry, index, "socks"), ["o-1:7"]);
    assert_eq!(ids(&registry, index, "id:5"), ["o-1:7"]);
    assert_eq!(ids(&registry, index, "price:[40 TO 50]"), ["6"]);
    assert_eq!(ids(&registry, index, "in_stock:true"), ["o-1:7"]);
    assert_eq!(
        ids(&registry, index, "title:scarf AND in_stock:false"),
        ["6"]
    );
    assert_eq!(ids(&registry, index, "crimson"), ["6"]);
    assert_eq!(live(&registry, index)["6"]["color"], json!("crimson"));
    // The new columns answer `column:value` as the typed ones do, also after a reopen.
    drop(sink);
    drop(registry);
    let registry = IndexRegistry::open(dir.path()).unwrap();
    assert_eq!(ids(&registry, index, "color:crimson"), ["6"]);
    assert_eq!(ids(&registry, index, "weight:120"), ["6"]);
    assert!(ids(&registry, index, "weight:121").is_empty());
    let err = registry
        .search(index, "weight:[100 TO 200]", 10)
        .unwrap_err();
    assert_eq!(err.http_status(), 400, "{err}");
    assert!(err.to_string().contains("rebuilt"), "{err}");
    assert_eq!(ids(&registry, index, "meta.size:large"), ["6"]);
    assert_eq!(
        ids(&registry, index, "title:scarf AND color:crimson"),
        ["6"]
    );
    assert!(ids(&registry, index, "title:scarf -color:crimson").is_empty());
    assert!(ids(&registry, index, r#""color:crimson""#).is_empty());
    let kinds: Vec<(String, &str)> = registry
        .info(index)
        .unwrap()
        .fields
        .into_iter()
        .map(|f| (f.name, f.kind))
        .collect();
    for new in [
        ("color".to_string(), "text"),
        ("weight".into(), "i64"),
        ("meta".into(), "json"),
    ] {
        assert!(kinds.contains(&new), "{new:?} in {kinds:?}");
    }

    let err = registry.search(index, "title:(", 10).unwrap_err();
    assert_eq!(err.http_status(), 400, "{err}");
    assert!(err.to_string().contains("title:("), "{err}");
    let err = registry.search(index, "nosuchfield:x", 10).unwrap_err();
    assert_eq!(err.http_status(), 400, "{err}");
    let err = registry.search("nope", "x", 10).unwrap_err();
    assert_eq!(err, QueryError::NotFound("nope".into()));
    assert_eq!(err.http_status(), 404);
    let counted = registry.search(index, "*", 0).unwrap();
    assert_eq!((counted.total, counted.hits.len()), (2, 0));
    assert_eq!(registry.search(index, "*", 1).unwrap().hits.len(), 1);
}
