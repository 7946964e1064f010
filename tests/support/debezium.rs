//! The real Debezium 3.6 Postgres connector, run by the Java half of the differential test
//! (`tests/debezium/DiffHarness.java`), and Tributary's Kafka topics read back through the
//! same Java code, so both sides are rendered alike: each record as a JSON object with
//! `topic`, `key_schema`, `value_schema` (Avro schema JSON, as Confluent's AvroData makes
//! it), `key`, `value` (Avro's JSON encoding) and `headers`.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use tributary_testkit::kafka::workspace_root;

/// The harness's Java class path (`scripts/debezium.sh fetch`, once per test process).
pub fn classpath() -> &'static str {
    static CP: OnceLock<String> = OnceLock::new();
    CP.get_or_init(|| {
        let out = Command::new(workspace_root().join("scripts/debezium.sh"))
            .arg("fetch")
            .output()
            .expect("run scripts/debezium.sh");
        assert!(
            out.status.success(),
            "scripts/debezium.sh fetch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

fn java(args: &[&str]) -> Command {
    let mut cmd = Command::new("java");
    cmd.args([
        "-Xms64m",
        "-Xmx768m",
        "-XX:+UseSerialGC",
        // java.util.Date prints in the JVM's zone (the StringConverter's dates).
        "-Duser.timezone=UTC",
        "-cp",
        classpath(),
    ])
    .arg(format!(
        "-Dlog4j2.configurationFile={}",
        workspace_root()
            .join("bench/debezium/log4j2.properties")
            .display()
    ))
    // That configuration logs to this file.
    .arg(format!(
        "-Dconnect.log.file={}",
        std::env::temp_dir()
            .join(format!("tributary-debezium-{}.log", std::process::id()))
            .display()
    ))
    .arg("DiffHarness")
    .args(args);
    cmd
}

/// Debezium embedded engines, one per connector, in one JVM.
pub struct Debezium {
    child: Child,
    stdin: Option<ChildStdin>,
    dir: PathBuf,
}

impl Debezium {
    /// Starts one engine per `(name, properties)`; `name` is also the connector's name.
    pub fn start(dir: &Path, connectors: &[(String, Vec<(String, String)>)]) -> Debezium {
        std::fs::create_dir_all(dir).unwrap();
        let mut files = Vec::new();
        for (name, props) in connectors {
            let file = dir.join(format!("{name}.properties"));
            let mut text = format!(
                "name={name}\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n\
                 offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore\n\
                 offset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
                dir.join(format!("{name}.offsets")).display()
            );
            for (k, v) in props {
                text.push_str(&format!("{k}={}\n", escape(v)));
            }
            std::fs::write(&file, text).unwrap();
            files.push(file.display().to_string());
        }
        let dir_s = dir.display().to_string();
        let mut args = vec!["debezium", dir_s.as_str()];
        args.extend(files.iter().map(String::as_str));
        let log = std::fs::File::create(dir.join("debezium.log")).unwrap();
        let mut child = java(&args)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start java");
        let stdin = child.stdin.take();
        Debezium {
            child,
            stdin,
            dir: dir.to_path_buf(),
        }
    }

    /// The records engine `name` has emitted so far; panics when the engine failed.
    pub fn records(&self, name: &str) -> Vec<Value> {
        if let Ok(why) = std::fs::read_to_string(self.dir.join(format!("{name}.failed"))) {
            panic!("Debezium engine {name} failed: {why}\n{}", self.log());
        }
        read_lines(&self.dir.join(format!("{name}.jsonl")))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("debezium.log")).unwrap_or_default()
    }

    /// Closes the engines and waits for the JVM.
    pub fn stop(mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }
}

impl Drop for Debezium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Java properties escaping of a value (backslashes and line breaks).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Every record of the topics matching `regex` (read_committed), read until at least `min`
/// arrived and then none for `idle_ms`.
pub fn kafka_records(
    dir: &Path,
    bootstrap: &str,
    registry: &str,
    regex: &str,
    min: usize,
    idle_ms: u64,
) -> Vec<Value> {
    let out = dir.join(format!(
        "kafka-{}.jsonl",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let status = java(&[
        "kafka",
        bootstrap,
        registry,
        regex,
        &out.display().to_string(),
        &idle_ms.to_string(),
        &min.to_string(),
    ])
    .stdout(Stdio::null())
    .status()
    .expect("run the Kafka reader");
    assert!(status.success(), "the harness's Kafka reader failed");
    read_lines(&out)
}

/// Every key and value of the topics matching `regex`, written by a JsonConverter with
/// `schemas.enable=schemas`, each beside what Kafka's JsonConverter (or Jackson) writes for
/// it (see `DiffHarness json`).
pub fn json_records(
    dir: &Path,
    bootstrap: &str,
    regex: &str,
    min: usize,
    idle_ms: u64,
    schemas: bool,
) -> Vec<Value> {
    let out = dir.join(format!("json-{schemas}.jsonl"));
    let status = java(&[
        "json",
        bootstrap,
        regex,
        &out.display().to_string(),
        &idle_ms.to_string(),
        &min.to_string(),
        &schemas.to_string(),
    ])
    .stdout(Stdio::null())
    .status()
    .expect("run the JSON reader");
    assert!(status.success(), "the harness's JSON reader failed");
    read_lines(&out)
}

/// Every record of the topics matching `regex` (written with the JsonConverter, schemas
/// on) with what each transform chain of `chains` (a properties file's text, see
/// `DiffHarness transform`) made of it in Java.
pub fn transform_records(
    dir: &Path,
    bootstrap: &str,
    regex: &str,
    chains: &str,
    min: usize,
    idle_ms: u64,
) -> Vec<Value> {
    let file = dir.join("chains.properties");
    std::fs::write(&file, chains).unwrap();
    let out = dir.join("transformed.jsonl");
    let status = java(&[
        "transform",
        bootstrap,
        regex,
        &file.display().to_string(),
        &out.display().to_string(),
        &idle_ms.to_string(),
        &min.to_string(),
    ])
    .stdout(Stdio::null())
    .status()
    .expect("run the transform harness");
    assert!(status.success(), "the harness's transform mode failed");
    read_lines(&out)
}

/// The complete lines of `path`: the engines append to their file while it is read, so a
/// last line without its newline is still being written and is left for the next read.
fn read_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The names of Debezium 3.6's `PostgresConnectorConfig.ALL_FIELDS`, read from the jar.
pub fn debezium_fields() -> Vec<String> {
    let out = java(&["fields"]).output().expect("run the harness");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
