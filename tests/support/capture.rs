//! `tributary capture` as a child process, with its JSON lines collected as they arrive.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub struct Capture {
    pub child: Child,
    /// Raw lines printed so far (all of them, or none when only counting).
    pub lines: Arc<Mutex<Vec<String>>>,
    count: Arc<std::sync::atomic::AtomicUsize>,
    pub stderr: Arc<Mutex<String>>,
    pub offset_file: PathBuf,
    /// The unterminated last fragment, when the process died in the middle of a line.
    pub truncated: Arc<Mutex<Option<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    err_reader: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    /// Writes the connector JSON into `dir` and starts `tributary capture` on it.
    pub fn start(dir: &Path, connector: &Value) -> Capture {
        Self::start_with(dir, connector, true)
    }

    /// Like [`Capture::start`]; with `keep` false the lines are only counted (for streams
    /// too large to hold), each still checked to be JSON.
    pub fn start_with(dir: &Path, connector: &Value, keep: bool) -> Capture {
        let name = connector["name"].as_str().expect("connector name");
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(connector).unwrap()).unwrap();
        let offset_file = dir.join(format!("{name}.offsets.json"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["capture", "--connector"])
            .arg(&file)
            .arg("--offset-file")
            .arg(&offset_file)
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tributary capture");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        let counter = count.clone();
        let truncated = Arc::new(Mutex::new(None));
        let tail = truncated.clone();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::with_capacity(1 << 16, stdout);
            let mut raw = Vec::new();
            loop {
                raw.clear();
                match stdout.read_until(b'\n', &mut raw) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if raw.pop_if(|b| *b == b'\n').is_none() {
                    // The process died in the middle of a write (kill -9): a fragment of a
                    // record, kept aside rather than taken for a record.
                    *tail.lock().unwrap() = Some(String::from_utf8_lossy(&raw).into_owned());
                    break;
                }
                let Ok(line) = String::from_utf8(std::mem::take(&mut raw)) else {
                    break;
                };
                assert!(
                    line.starts_with("{\"topic\":") && line.ends_with('}'),
                    "capture printed a line that is not a record: {line}"
                );
                if keep {
                    sink.lock().unwrap().push(line);
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::Release);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let err_sink = stderr.clone();
        let err_reader = std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { break };
                eprintln!("[capture] {line}");
                let mut s = err_sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Capture {
            child,
            lines,
            count,
            stderr,
            offset_file,
            truncated,
            reader: Some(reader),
            err_reader: Some(err_reader),
        }
    }

    /// Waits until the capture's log has a line containing `needle` (say `streaming
    /// started`, once the snapshot is over and DDL can no longer race it).
    #[allow(dead_code)]
    pub async fn wait_log(&self, needle: &str, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while !self.stderr.lock().unwrap().contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "no log line with {needle:?} within {timeout:?}; stderr:\n{}",
                self.stderr.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Acquire)
    }

    /// All lines so far, parsed.
    pub fn snapshot_lines(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Waits until one of the last 100 lines is a record of `topic` (a marker row the
    /// test committed after its workload, so everything before it has been printed).
    pub async fn wait_topic(&self, topic: &str, timeout: Duration) {
        let prefix = format!("{{\"topic\":\"{topic}\"");
        super::wait_for(&format!("a record on {topic}"), timeout, async || {
            let lines = self.lines.lock().unwrap();
            lines
                .iter()
                .rev()
                .take(100)
                .any(|l| l.starts_with(&prefix))
                .then_some(())
        })
        .await;
    }

    /// Takes the raw lines collected so far.
    pub fn take_raw(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }

    /// Waits until at least `n` lines arrived.
    pub async fn wait_lines(&mut self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.count() >= n {
                return self.snapshot_lines();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader a moment to drain what was printed.
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                if self.count() >= n {
                    return self.snapshot_lines();
                }
                panic!(
                    "capture exited ({status}) after {} of {n} lines; stderr:\n{}",
                    self.count(),
                    self.stderr.lock().unwrap()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {n} lines (have {}); stderr:\n{}",
                self.count(),
                self.stderr.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with a valid pid of our child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// SIGINT, then waits for exit; returns the exit status and all lines.
    pub fn stop(mut self) -> (std::process::ExitStatus, Vec<Value>) {
        self.signal(libc::SIGINT);
        self.finish()
    }

    /// SIGINT and wait, without consuming the handle.
    pub fn finish_after_stop(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGINT);
        self.wait_exit()
    }

    /// SIGINT and wait; returns the status and the parsed lines.
    pub fn finish_and_status(mut self) -> (std::process::ExitStatus, Vec<Value>) {
        self.signal(libc::SIGINT);
        self.finish()
    }

    /// SIGKILL, then waits; returns the raw lines printed.
    pub fn kill9(mut self) -> Vec<String> {
        self.signal(libc::SIGKILL);
        self.wait_exit();
        self.take_raw()
    }

    /// Waits for the process to exit by itself.
    pub fn finish(&mut self) -> (std::process::ExitStatus, Vec<Value>) {
        let status = self.wait_exit();
        (status, self.snapshot_lines())
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let status = self.child.wait().expect("wait for capture");
        // Both pipes close when the process exits: read them to the end.
        if let Some(r) = self.err_reader.take() {
            let _ = r.join();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        status
    }

    /// Peak resident memory of the process so far, in bytes (from /proc).
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    }

    /// The offset file as it is now (`None` when there is none yet).
    pub fn offset(&self) -> Option<Value> {
        let bytes = std::fs::read(&self.offset_file).ok()?;
        Some(
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("offset file is not JSON ({e})")),
        )
    }

    /// Waits up to `timeout` for the process to exit by itself; `None` if it is still running.
    pub async fn exit_within(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Both pipes close when the process exits: read them to the end.
                for r in [self.err_reader.take(), self.reader.take()]
                    .into_iter()
                    .flatten()
                {
                    let _ = r.join();
                }
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL and wait, without consuming the handle: the lines stay readable.
    pub fn kill9_and_wait(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGKILL);
        self.wait_exit()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of one topic.
pub fn on_topic<'a>(lines: &'a [Value], topic: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["topic"] == topic).collect()
}
