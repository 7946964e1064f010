//! A Kafka-API broker for the integration tests: nisshi on a free port, or the Kafka named
//! by `KAFKA_BOOTSTRAP`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Broker {
    child: Option<Child>,
    pub bootstrap: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn broker() -> Broker {
    if let Ok(b) = std::env::var("KAFKA_BOOTSTRAP") {
        return Broker {
            child: None,
            bootstrap: b,
        };
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(std::env::var("NISSHI").unwrap_or_else(|_| "nisshi".into()))
        .args(["broker", "--storage-engine", "memory://nisshi/", "--listener-url", &url, "--advertised-listener-url", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nisshi (cargo install nisshi@0.7.0 --no-default-features --features dynostore --ignore-rust-version)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nisshi did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Broker {
        child: Some(child),
        bootstrap: format!("127.0.0.1:{port}"),
    }
}
