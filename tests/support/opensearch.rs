//! OpenSearch for tests: a single node started by `scripts/opensearch.sh run` on free ports,
//! its data in a temp dir, stopped when the `OpenSearch` drops. The node reads its stdin
//! and exits when it closes, so a test that dies leaves no JVM behind. Used by the daemon's
//! black-box tests and, through `#[path]`, by the search crate's tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use tributary_testkit::free_port;

/// A node for one test.
pub struct OpenSearch {
    child: Child,
    _stdin: ChildStdin,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

/// How long a node may take to start (a cold JVM on a busy 2-core machine).
const START: Duration = Duration::from_secs(120);

impl OpenSearch {
    pub fn start() -> OpenSearch {
        OpenSearch::start_with(&[])
    }

    /// A node with extra settings, e.g. `thread_pool.write.queue_size=1`.
    pub fn start_with(settings: &[&str]) -> OpenSearch {
        let tmp = tempfile::Builder::new()
            .prefix("tributary-opensearch")
            .tempdir()
            .expect("opensearch temp dir");
        let dir = tmp.path().to_path_buf();
        let http = free_port();
        let transport = free_port();
        let script = root().join("scripts/opensearch.sh");
        let log = std::fs::File::create(dir.join("launcher.log")).expect("launcher log");
        let mut child = Command::new(&script)
            .arg("run")
            .arg(dir.join("node"))
            .arg(http.to_string())
            .arg(transport.to_string())
            .args(settings)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("started") {
                    let _ = tx.send(());
                }
            }
        });
        let started = Instant::now();
        if rx.recv_timeout(START).is_err() {
            let _ = child.kill();
            panic!(
                "OpenSearch did not start in {:?}:\n{}",
                started.elapsed(),
                tail(&dir.join("launcher.log"))
            );
        }
        OpenSearch {
            child,
            _stdin: stdin,
            url: format!("http://127.0.0.1:{http}"),
            dir,
            _tmp: tmp,
        }
    }

    /// The end of the node's output, for failure messages.
    pub fn log(&self) -> String {
        tail(&self.dir.join("launcher.log"))
    }
}

impl Drop for OpenSearch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("scripts/opensearch.sh").is_file() {
        assert!(dir.pop(), "no scripts/opensearch.sh above the crate");
    }
    dir
}
