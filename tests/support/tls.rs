//! Certificates made at test time with the `openssl` command: a CA, a server certificate
//! for 127.0.0.1 and localhost signed by it, a client certificate (for mTLS) signed by it,
//! and a second CA that signed nothing of the server's (to show an untrusted broker).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The password of `client.enc.key`.
pub const CLIENT_KEY_PASSWORD: &str = "key-pass-7c1d";

pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// Makes every file in `dir`: `ca.pem`, `server.pem` (key and chain, PKCS#8, no
    /// password), `server.key`, `server.crt`, `client.key`, `client.enc.key` (encrypted
    /// with [`CLIENT_KEY_PASSWORD`]), `client.crt`, `other-ca.pem`.
    pub fn create(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl (apt-get install openssl)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for ca in ["ca", "other-ca"] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=tributary test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ]);
        }
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (who, cn) in [("server", "localhost"), ("client", "tributary")] {
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{who}.raw.key"),
                "-out",
                &format!("{who}.csr"),
            ]);
            // PKCS#8, which both librdkafka and Kafka's PEM keystore read.
            run(&[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                &format!("{who}.raw.key"),
                "-out",
                &format!("{who}.key"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{who}.ext"),
                "-out",
                &format!("{who}.crt"),
            ]);
        }
        let pem = |files: &[&str]| {
            files
                .iter()
                .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
                .collect::<String>()
        };
        std::fs::write(dir.join("server.pem"), pem(&["server.key", "server.crt"])).unwrap();
        // The client key once more, encrypted: librdkafka opens it with ssl.key.password.
        run(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "client.raw.key",
            "-out",
            "client.enc.key",
            "-passout",
            &format!("pass:{CLIENT_KEY_PASSWORD}"),
        ]);
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }
}
