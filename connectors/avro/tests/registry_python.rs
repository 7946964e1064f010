//! The embedded registry must work unchanged with Confluent's own Python client
//! (`confluent-kafka`'s `SchemaRegistryClient`, `AvroSerializer`, `AvroDeserializer`),
//! also behind basic auth and in read-only mode.
//!
//! The client is installed from PyPI into a venv under the target directory
//! (`target/pyenv`), created once and reused by later runs. If the venv or the install
//! fails, the test fails with pip's output: it never skips silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tributary_avro::registry::{Access, EmbeddedRegistry, RegistryAuth, RegistryClient};
use tributary_core::{HttpAuth, Secret};

const IMPORT_CHECK: &str = "import confluent_kafka.schema_registry.avro, fastavro";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`, wherever the target directory is.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target tmp dir has a parent")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"))
}

fn show(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The venv's python, with `confluent-kafka[avro]` importable. The tests of this binary
/// run in processes of their own at the same time: a file lock lets one of them create
/// the venv and install into it while the others wait, instead of racing it.
fn python_with_confluent_kafka() -> PathBuf {
    let venv = target_dir().join("pyenv");
    let python = venv.join("bin").join("python");
    let lock = std::fs::File::create(target_dir().join("pyenv.lock"))
        .unwrap_or_else(|e| panic!("could not create the venv's lock file: {e}"));
    lock.lock()
        .unwrap_or_else(|e| panic!("could not lock the venv's lock file: {e}"));
    if !python.exists() {
        let out = run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        assert!(
            out.status.success(),
            "python3 -m venv {} failed:\n{}",
            venv.display(),
            show(&out)
        );
    }
    let imports = |python: &Path| run(Command::new(python).args(["-c", IMPORT_CHECK]));
    if !imports(&python).status.success() {
        let out = run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "confluent-kafka[avro]",
        ]));
        assert!(
            out.status.success(),
            "pip install 'confluent-kafka[avro]' into {} failed:\n{}",
            venv.display(),
            show(&out)
        );
        let check = imports(&python);
        assert!(
            check.status.success(),
            "confluent-kafka installed but does not import:\n{}",
            show(&check)
        );
    }
    python
}

/// Runs the script to completion or until the deadline, and returns its output.
fn run_script(python: &Path, script: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", python.display()));
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    loop {
        if child.try_wait().expect("waiting on the script").is_some() {
            return child
                .wait_with_output()
                .expect("collecting the script's output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child
                .wait_with_output()
                .expect("collecting the script's output");
            panic!(
                "the Python client script ran longer than {SCRIPT_TIMEOUT:?}:\n{}",
                show(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn confluent_python_client_works_against_the_embedded_registry() {
    let python = tokio::task::spawn_blocking(python_with_confluent_kafka)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let registry = EmbeddedRegistry::open(dir.path())
        .unwrap()
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let url = registry.url();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/registry_client.py");
    let output = tokio::task::spawn_blocking(move || run_script(&python, &script, &[&url]))
        .await
        .unwrap();
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the Python client found a mismatch:\n{}",
        show(&output)
    );
    registry.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_basic_auth_and_read_only_the_python_client_reads_only_with_credentials() {
    let python = tokio::task::spawn_blocking(python_with_confluent_kafka)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (user, password) = ("reader", "reg-Pa55-41c2");
    let access = Access::new(
        HttpAuth::Basic {
            username: user.into(),
            password: Secret::new(password),
        },
        true,
    );
    let daemon_token = access.daemon_token().clone();
    let registry = EmbeddedRegistry::open(dir.path())
        .unwrap()
        .with_access(access)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let url = registry.url();
    // The daemon's own client registers, read-only mode or not.
    let daemon = RegistryClient::new(&url, RegistryAuth::Bearer(daemon_token)).unwrap();
    let subject = "cdc.public.items-value";
    let schema = r#"{"type": "record", "name": "Value", "namespace": "cdc.public.items", "fields": [{"name": "id", "type": "long"}]}"#;
    let id = daemon.register(subject, schema).await.unwrap();
    // Anyone else's client cannot, even with the right credentials.
    let other = RegistryClient::new(
        &url,
        RegistryAuth::Basic {
            user: user.into(),
            password: Secret::new(password),
        },
    )
    .unwrap();
    let refused = other
        .register("cdc.public.other-value", schema)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("read-only"), "{refused}");
    assert_eq!(
        &*other.schema_by_id(id).await.unwrap(),
        &*daemon.schema_by_id(id).await.unwrap()
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/registry_auth.py");
    let output = tokio::task::spawn_blocking(move || {
        run_script(&python, &script, &[&url, user, password, subject])
    })
    .await
    .unwrap();
    print!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the Python client found a mismatch:\n{}",
        show(&output)
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains(password));
    registry.shutdown().await.unwrap();
}
