//! `docs/tables.md` is generated, and this test fails when the committed file is stale or a
//! mart column has no meaning. `STRIPELAKE_WRITE_DOCS=1` rewrites it instead.

use stripelake::storage::Storage;
use stripelake::transform::{self, Params};

#[tokio::test]
async fn the_data_dictionary_is_current() {
    // The marts' real schemas: every model built on an empty lake.
    let storage = Storage::open("memory://", &Default::default()).expect("store");
    let params = Params {
        report_timezone: "UTC".into(),
        discount_mode: "forever_only".into(),
        churn_recognition: "at_end".into(),
        ..Params::default()
    };
    let outcomes = transform::run(&storage, &params, &[], "docs")
        .await
        .expect("transform");
    assert!(outcomes.iter().all(|o| o.status == "ok"), "{outcomes:#?}");
    let ctx = transform::open(&storage).await.expect("open");
    let marts = stripelake::docs::marts().expect("marts");
    let mut schemas = Vec::new();
    for m in &marts {
        let table = ctx.table(m.name.as_str()).await.expect("mart");
        schemas.push(table.schema().as_arrow().clone());
    }
    let pairs: Vec<_> = marts.iter().zip(schemas.iter()).collect();
    let md = stripelake::docs::tables_markdown(&pairs).unwrap_or_else(|e| panic!("{e}"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/tables.md");
    if std::env::var_os("STRIPELAKE_WRITE_DOCS").is_some() {
        std::fs::write(path, &md).expect("write docs/tables.md");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == md,
        "docs/tables.md is stale: run `STRIPELAKE_WRITE_DOCS=1 scripts/test` and commit it"
    );
}
