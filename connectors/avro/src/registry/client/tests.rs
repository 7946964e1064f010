use super::*;

#[test]
fn bad_urls_are_refused_with_the_reason_and_without_the_password() {
    for (url, reason) in [
        ("localhost:8081", "scheme"),
        ("ftp://registry", "scheme"),
        ("not a url", "relative URL"),
        ("http://registry:8081/?x=1", "query"),
    ] {
        let err = RegistryClient::new(url, RegistryAuth::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("schema_registry.url"), "{err}");
        assert!(err.contains(reason), "{url}: {err}");
    }
    let err = RegistryClient::new("ftp://me:hunter2@registry", RegistryAuth::None)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("me:********@registry"), "{err}");
}

#[test]
fn credentials_in_the_url_become_basic_auth_and_leave_the_url() {
    let c = RegistryClient::new(
        "https://me:p%40ss@registry.example.com/apis/ccompat/v7",
        RegistryAuth::None,
    )
    .unwrap();
    assert_eq!(c.url(), "https://registry.example.com/apis/ccompat/v7");
    assert_eq!(
        c.inner.auth,
        RegistryAuth::Basic {
            user: "me".into(),
            password: Secret::new("p@ss")
        }
    );
    assert!(!format!("{c:?}").contains("p@ss"));
}

#[test]
fn subjects_are_percent_encoded_after_the_path_prefix() {
    let c = RegistryClient::new("http://r:8081/apis/ccompat/v7/", RegistryAuth::None).unwrap();
    let url = c.url_for(&["subjects", "a/b c?d", "versions"]);
    assert_eq!(
        url.as_str(),
        "http://r:8081/apis/ccompat/v7/subjects/a%2Fb%20c%3Fd/versions"
    );
    let c = RegistryClient::new("http://r:8081", RegistryAuth::None).unwrap();
    assert_eq!(
        c.url_for(&["schemas", "ids", "7"]).as_str(),
        "http://r:8081/schemas/ids/7"
    );
}
