//! Session setup against a real cluster: TLS modes, client certificates and
//! `database.initial.statements`, on query and replication connections alike.

use tributary_core::{ErrorKind, Retry};

use super::test_cluster::Cluster;
use super::*;
use crate::conn::{ConnError, SslMode, connect_query};

#[tokio::test]
async fn initial_statements_run_on_every_sql_connection_and_keep_the_session_settings() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let mut params = cluster.superuser();
    params.initial_statements = crate::conn::split_statements(
        "SET statement_timeout = '7s'; SET application_name = 'a;;b'; SET DateStyle = 'German'",
    );
    let client = connect_query(&params).await.unwrap();
    let row = client
        .query_one(
            "SELECT current_setting('statement_timeout'), current_setting('application_name'), \
             current_setting('DateStyle')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "7s");
    assert_eq!(row.get::<_, String>(1), "a;b");
    // The text forms Tributary parses stay as it set them.
    assert_eq!(row.get::<_, String>(2), "ISO, YMD");
    let mut sql = ReplicationConnection::connect_sql(&params).await.unwrap();
    let rows = sql.simple_query("SHOW statement_timeout").await.unwrap();
    assert_eq!(rows[0][0].as_deref(), Some("7s"));
    // The replication connection is left alone, as Debezium leaves it.
    let mut replication = ReplicationConnection::connect(&params).await.unwrap();
    let rows = replication
        .simple_query("SHOW statement_timeout")
        .await
        .unwrap();
    assert_eq!(rows[0][0].as_deref(), Some("0"));

    params.initial_statements = vec!["SET no_such_setting = 1".into()];
    let err = connect_query(&params).await.unwrap_err();
    assert!(
        err.to_string().contains("database.initial.statements"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Definite, "{err}");
    match ReplicationConnection::connect_sql(&params).await {
        Ok(_) => panic!("a failing initial statement was ignored"),
        Err(err) => assert!(err.to_string().contains("no_such_setting"), "{err}"),
    }
}

async fn ssl_in_use(conn: &mut ReplicationConnection) -> bool {
    let rows = conn
        .simple_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .await
        .unwrap();
    rows == vec![vec![Some("t".to_string())]]
}

#[tokio::test]
async fn tls_require_and_verify_full_encrypt_the_session() {
    let Some(cluster) = Cluster::start(true) else {
        return;
    };
    let mut params = cluster.superuser();

    params.sslmode = SslMode::Require;
    let mut conn = ReplicationConnection::connect(&params).await.unwrap();
    assert!(conn.is_tls());
    assert!(ssl_in_use(&mut conn).await);

    params.host = "localhost".into();
    params.sslmode = SslMode::VerifyFull;
    params.sslrootcert = Some(cluster.certificate());
    let mut conn = ReplicationConnection::connect(&params).await.unwrap();
    assert!(ssl_in_use(&mut conn).await);
    let client = connect_query(&params).await.unwrap();
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    // session settings hold on query connections too
    let row = client
        .query_one("SELECT current_setting('DateStyle')", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ISO, YMD");

    // the certificate names localhost only: verify-ca accepts 127.0.0.1, verify-full not
    params.host = "127.0.0.1".into();
    params.sslmode = SslMode::VerifyCa;
    let mut conn = ReplicationConnection::connect(&params).await.unwrap();
    assert!(ssl_in_use(&mut conn).await);
    params.sslmode = SslMode::VerifyFull;
    let err = ReplicationConnection::connect(&params).await.unwrap_err();
    assert!(matches!(err, ConnError::Tls { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Definite);
    let err = connect_query(&params).await.unwrap_err();
    assert!(matches!(err, ConnError::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn a_client_certificate_authenticates_a_cert_user_on_both_kinds_of_connection() {
    let Some(cluster) = Cluster::start(true) else {
        return;
    };
    cluster
        .execute("CREATE ROLE cert_user LOGIN REPLICATION")
        .await;
    let mut params = cluster.params("cert_user", "");
    params.sslmode = SslMode::Require;
    let err = connect_query(&params).await.unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    // The key in PEM, and in pgjdbc's DER PKCS#8 (what Debezium users point sslkey at).
    for key in ["client.key", "client.pk8"] {
        params.sslcert = Some(cluster.path("client.crt"));
        params.sslkey = Some(cluster.path(key));
        let client = connect_query(&params).await.unwrap();
        let row = client
            .query_one(
                "SELECT current_user::text, ssl, client_dn FROM pg_stat_ssl \
                 WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "cert_user");
        assert!(row.get::<_, bool>(1));
        assert_eq!(row.get::<_, String>(2), "/CN=cert_user");
        let mut conn = ReplicationConnection::connect(&params).await.unwrap();
        conn.identify_system().await.unwrap();
    }
    // Encrypted keys, with database.sslpassword: without it, or with a wrong one, the
    // error names that property.
    for key in ["client-enc.pk8", "client-enc.key", "client-legacy.key"] {
        params.sslkey = Some(cluster.path(key));
        params.sslpassword = tributary_core::Secret::new("");
        let err = connect_query(&params).await.unwrap_err().to_string();
        assert!(err.contains("set database.sslpassword"), "{key}: {err}");
        params.sslpassword = tributary_core::Secret::new("wrong");
        let err = connect_query(&params).await.unwrap_err().to_string();
        assert!(
            err.contains("cannot decrypt the client key"),
            "{key}: {err}"
        );
        params.sslpassword = tributary_core::Secret::new("s3cret");
        let client = connect_query(&params).await.unwrap();
        let row = client
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "cert_user", "{key}");
        let mut conn = ReplicationConnection::connect(&params).await.unwrap();
        conn.identify_system().await.unwrap();
    }
    // An unencrypted key ignores a password, as libpq and pgjdbc do.
    params.sslkey = Some(cluster.path("client.pk8"));
    connect_query(&params).await.unwrap();
    params.sslpassword = tributary_core::Secret::default();

    // A key that is not the certificate's: the server refuses the handshake.
    params.sslkey = Some(cluster.path("ca.key"));
    assert!(connect_query(&params).await.is_err());
    assert!(ReplicationConnection::connect(&params).await.is_err());
}

#[tokio::test]
async fn prefer_falls_back_to_plain_and_require_fails_without_server_ssl() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let mut params = cluster.superuser();
    params.sslmode = SslMode::Prefer;
    let mut conn = ReplicationConnection::connect(&params).await.unwrap();
    assert!(!conn.is_tls());
    assert!(!ssl_in_use(&mut conn).await);
    connect_query(&params).await.unwrap();

    params.sslmode = SslMode::Require;
    let err = ReplicationConnection::connect(&params).await.unwrap_err();
    assert!(matches!(err, ConnError::SslRefused { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Definite);
    let err = connect_query(&params).await.unwrap_err();
    assert!(matches!(err, ConnError::SslRefused { .. }), "{err:?}");
}
