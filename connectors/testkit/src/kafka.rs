//! Apache Kafka for tests: a one-node KRaft cluster (combined broker and controller) started
//! by `scripts/kafka.sh run` on free ports, its data and log in a temp dir, killed when the
//! `Broker` drops (or when the thread that started it dies, so a killed test leaves no JVM
//! behind). `KAFKA_BOOTSTRAP` points every test at a Kafka of the user's own instead.
//!
//! Every test gets its own broker: tests reuse connector names, topic prefixes and the
//! offsets topic, and a broker starts in about 3 s.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A broker for one test.
pub struct Broker {
    child: Option<Child>,
    /// What clients use as bootstrap.servers.
    pub bootstrap: String,
    /// The broker's folder (server.properties, server.log, data); `None` for `KAFKA_BOOTSTRAP`.
    pub dir: Option<PathBuf>,
    _tmp: Option<tempfile::TempDir>,
}

/// How `Broker::start_with` changes the default one-listener PLAINTEXT broker.
#[derive(Default, Clone)]
pub struct BrokerOptions {
    /// The client port; a free one when `None`.
    pub port: Option<u16>,
    /// Lines appended to server.properties (later keys win). `{port}`, `{controller}` and
    /// `{dir}` are replaced by the client port, the controller port and the broker's folder.
    pub properties: String,
    /// Extra arguments of the storage format, e.g. `--add-scram …`.
    pub format_args: Vec<String>,
}

impl Broker {
    /// The user's Kafka from `KAFKA_BOOTSTRAP`, or a new broker of this test's own.
    pub fn start() -> Broker {
        if let Ok(b) = std::env::var("KAFKA_BOOTSTRAP") {
            return Broker {
                child: None,
                bootstrap: b,
                dir: None,
                _tmp: None,
            };
        }
        Broker::start_with(BrokerOptions::default())
    }

    /// A broker of this test's own, whatever `KAFKA_BOOTSTRAP` says (for tests that need
    /// listeners of their own: a proxy, TLS, SASL).
    pub fn start_with(opts: BrokerOptions) -> Broker {
        let tmp = tempfile::Builder::new()
            .prefix("tributary-kafka")
            .tempdir()
            .expect("broker temp dir");
        let dir = tmp.path().to_path_buf();
        let port = opts.port.unwrap_or_else(free_port);
        let controller = free_port();
        let props = dir.join("extra.properties");
        let text = opts
            .properties
            .replace("{port}", &port.to_string())
            .replace("{controller}", &controller.to_string())
            .replace("{dir}", &dir.display().to_string());
        std::fs::write(&props, text).expect("write extra.properties");
        let script = workspace_root().join("scripts/kafka.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .arg("run")
            .arg(dir.join("broker"))
            .arg(port.to_string())
            .arg(controller.to_string())
            .arg(&props)
            .env("KAFKA_FORMAT_ARGS", opts.format_args.join(" "))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("stderr.log")).expect("broker stderr file"),
            ));
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "Kafka exited ({status}) before listening on {port}:\n{}\n{}",
                    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default(),
                    std::fs::read_to_string(dir.join("broker/server.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "Kafka did not listen on {port} within 120 s; see {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child: Some(child),
            bootstrap: format!("127.0.0.1:{port}"),
            dir: Some(dir.join("broker")),
            _tmp: keep_unless_asked(tmp),
        }
    }

    /// The broker's own log (for failure messages).
    pub fn log(&self) -> String {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join("server.log")).ok())
            .unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The repository root: the nearest ancestor of this crate holding `scripts/kafka.sh`.
pub fn workspace_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        if dir.join("scripts/kafka.sh").is_file() {
            return dir;
        }
        assert!(
            dir.pop(),
            "no scripts/kafka.sh above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

/// SIGKILL the child when the thread that spawned it ends: a test killed by its timeout
/// leaves no broker running.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// KEEP_KAFKA=1 keeps the broker's folder (its log, its data) after the test.
fn keep_unless_asked(tmp: tempfile::TempDir) -> Option<tempfile::TempDir> {
    if std::env::var_os("KEEP_KAFKA").is_some() {
        eprintln!("kept the broker's folder {}", tmp.keep().display());
        return None;
    }
    Some(tmp)
}
