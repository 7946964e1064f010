//! TLS for Postgres connections over rustls (ring provider), with libpq's `sslmode` rules.
//!
//! `prefer` and `require` encrypt without checking the certificate, like libpq: they guard
//! against eavesdropping, not against an impostor. `verify-ca` checks the chain against the
//! trusted roots but not the host name; `verify-full` checks both. Roots come from
//! `sslrootcert` (PEM) or else the system store. [`client_config`] builds the rustls
//! configuration once per connection attempt; [`MakeRustlsConnect`] adapts it to
//! `tokio_postgres`, and the replication client uses it directly after its own SSLRequest.

use std::fs::File;
use std::future::Future;
use std::io::{self, BufReader};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::{ConnError, ConnectParams, SslMode};

/// The rustls client configuration for `params.sslmode` (loading roots when it verifies).
pub fn client_config(params: &ConnectParams) -> Result<Arc<ClientConfig>, ConnError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_provider = provider.key_provider;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnError::TlsConfig {
            message: e.to_string(),
            hint: "this is a bug in Tributary's TLS setup".into(),
        })?;
    let builder = match params.sslmode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify { provider })),
        SslMode::VerifyCa => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly {
                roots: Arc::new(load_roots(params)?),
                provider,
            })),
        SslMode::VerifyFull => builder.with_root_certificates(load_roots(params)?),
    };
    let mut config = match client_identity(params)? {
        // A resolver rather than `with_client_auth_cert`, which parses the certificate
        // with webpki and refuses the X.509 v1 certificates `openssl x509 -req` makes
        // (Postgres's own documentation makes them so); the server judges the chain.
        Some((certs, key)) => {
            let key = key_provider
                .load_private_key(key)
                .map_err(|e| ConnError::TlsConfig {
                    message: format!("the client key cannot sign: {e}"),
                    hint: "database.sslkey must be an RSA, ECDSA or Ed25519 private key".into(),
                })?;
            builder.with_client_cert_resolver(Arc::new(ClientCert(Arc::new(CertifiedKey::new(
                certs, key,
            )))))
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Arc::new(config))
}

/// Offers the one client certificate whenever the server asks for one.
#[derive(Debug)]
struct ClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A client certificate chain and its key.
pub type ClientIdentity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate chain and key of `params`, when both are set.
pub fn client_identity(params: &ConnectParams) -> Result<Option<ClientIdentity>, ConnError> {
    load_client_identity(
        params.sslcert.as_deref(),
        params.sslkey.as_deref(),
        params.sslpassword.expose(),
    )
    .map_err(|(field, message)| ConnError::TlsConfig {
        message,
        hint: identity_hint(field),
    })
}

fn identity_hint(field: &str) -> String {
    format!(
        "{field}: database.sslcert must name the certificate chain in PEM and database.sslkey its key in PEM or DER PKCS#8 (.pk8), encrypted ones with database.sslpassword; set both files, or neither"
    )
}

/// Reads `cert` (a PEM chain) and `key` (PEM, or DER PKCS#8; an encrypted one decrypted
/// with `password`); the error names the property at fault.
pub fn load_client_identity(
    cert: Option<&Path>,
    key: Option<&Path>,
    password: &str,
) -> Result<Option<ClientIdentity>, (&'static str, String)> {
    const CERT: &str = "database.sslcert";
    let (cert_path, key_path) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => return Err((KEY, "a client certificate needs its key".into())),
        (None, Some(_)) => return Err((CERT, "a client key needs its certificate".into())),
    };
    let read = |field, path: &Path| {
        std::fs::read(path).map_err(|e| (field, format!("cannot read {}: {e}", path.display())))
    };
    let cert_bytes = read(CERT, cert_path)?;
    let certs = rustls_pemfile::certs(&mut cert_bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| (CERT, format!("cannot read {}: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err((
            CERT,
            format!("{} holds no PEM certificate", cert_path.display()),
        ));
    }
    let key_bytes = read(KEY, key_path)?;
    Ok(Some((certs, private_key(key_bytes, key_path, password)?)))
}

const KEY: &str = "database.sslkey";

/// The client key in `bytes` (read from `path`): PEM (PKCS#8, PKCS#1 or SEC1; encrypted
/// PKCS#8 or a traditional encrypted key with `password`, as libpq reads them) or DER
/// PKCS#8 (pgjdbc's `.pk8`; an `EncryptedPrivateKeyInfo` with `password`, as pgjdbc reads
/// it). A key that is not encrypted needs no password, and ignores one, as both drivers do.
fn private_key(
    bytes: Vec<u8>,
    path: &Path,
    password: &str,
) -> Result<PrivateKeyDer<'static>, (&'static str, String)> {
    const PASSWORD: &str = "database.sslpassword";
    let shown = path.display();
    // PEM may have text before its first block (openssl's "Bag Attributes").
    let pem = bytes.windows(10).any(|w| w == b"-----BEGIN");
    let encrypted = if pem {
        let text = String::from_utf8_lossy(&bytes);
        text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || text.contains("Proc-Type: 4,ENCRYPTED")
    } else {
        der_is_encrypted(&bytes)
    };
    if !encrypted {
        if !pem {
            return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bytes)));
        }
        return rustls_pemfile::private_key(&mut bytes.as_slice())
            .map_err(|e| (KEY, format!("cannot read {shown}: {e}")))?
            .ok_or_else(|| (KEY, format!("{shown} holds no PEM private key")));
    }
    if password.is_empty() {
        return Err((
            PASSWORD,
            format!(
                "the client key {shown} is encrypted; set database.sslpassword to its passphrase"
            ),
        ));
    }
    let decrypted = if pem {
        openssl::pkey::PKey::private_key_from_pem_passphrase(&bytes, password.as_bytes())
    } else {
        openssl::pkey::PKey::private_key_from_pkcs8_passphrase(&bytes, password.as_bytes())
    };
    let key = decrypted.and_then(|k| k.private_key_to_pkcs8()).map_err(|e| {
        (
            PASSWORD,
            format!("cannot decrypt the client key {shown} with database.sslpassword (a wrong passphrase, or not a private key): {e}"),
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
}

/// Whether DER `bytes` are PKCS#8's `EncryptedPrivateKeyInfo` (a SEQUENCE opening with the
/// encryption's AlgorithmIdentifier, a SEQUENCE) rather than a `PrivateKeyInfo` (opening
/// with its version, an INTEGER).
fn der_is_encrypted(bytes: &[u8]) -> bool {
    let [0x30, len, rest @ ..] = bytes else {
        return false;
    };
    // The outer length: short form, or 0x8N followed by N length bytes.
    let skip = if len & 0x80 == 0 {
        0
    } else {
        usize::from(len & 0x7f)
    };
    rest.get(skip) == Some(&0x30)
}

/// The name the certificate is checked against (and sent as SNI unless it is an address).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, ConnError> {
    ServerName::try_from(host.to_string()).map_err(|e| ConnError::TlsConfig {
        message: format!("host {host:?} is not a valid TLS server name: {e}"),
        hint: "database.hostname must be a DNS name or an IP address".into(),
    })
}

fn load_roots(params: &ConnectParams) -> Result<RootCertStore, ConnError> {
    let mut roots = RootCertStore::empty();
    match &params.sslrootcert {
        Some(path) => {
            let bad = |message: String| ConnError::TlsConfig {
                message,
                hint: "database.sslrootcert must name a readable PEM file of CA certificates"
                    .into(),
            };
            let file = File::open(path)
                .map_err(|e| bad(format!("cannot open sslrootcert {}: {e}", path.display())))?;
            for cert in rustls_pemfile::certs(&mut BufReader::new(file)) {
                let cert = cert.map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("bad certificate in {}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(bad(format!("{} holds no certificates", path.display())));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::debug!(%error, "skipping unreadable system certificate");
            }
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(ConnError::TlsConfig {
                    message: format!(
                        "sslmode {} needs trusted root certificates, and the system store has none",
                        params.sslmode
                    ),
                    hint: "set database.sslrootcert to the server's CA certificate".into(),
                });
            }
        }
    }
    Ok(roots)
}

/// `prefer` / `require`: accept any certificate, but still check handshake signatures.
#[derive(Debug)]
struct NoVerify {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `tokio_postgres` TLS support over tokio-rustls.
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
}

impl MakeRustlsConnect {
    pub fn new(config: Arc<ClientConfig>) -> Self {
        MakeRustlsConnect { config }
    }
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = ConnError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, ConnError> {
        Ok(RustlsConnect {
            config: self.config.clone(),
            name: server_name(domain)?,
        })
    }
}

/// One TLS handshake for `tokio_postgres`.
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = RustlsConnectFuture<S>;

    fn connect(self, stream: S) -> Self::Future {
        RustlsConnectFuture(
            tokio_rustls::TlsConnector::from(self.config).connect(self.name, stream),
        )
    }
}

/// The handshake in progress.
pub struct RustlsConnectFuture<S>(tokio_rustls::Connect<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> Future for RustlsConnectFuture<S> {
    type Output = io::Result<RustlsStream<S>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map_ok(RustlsStream)
    }
}

/// A TLS stream handed to `tokio_postgres`. No channel binding is offered, so SCRAM runs
/// without `-PLUS`.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tributary_core::Secret;

    fn params(sslmode: SslMode, sslrootcert: Option<std::path::PathBuf>) -> ConnectParams {
        ConnectParams {
            host: "localhost".into(),
            port: 5432,
            user: "u".into(),
            password: Secret::new(""),
            dbname: "d".into(),
            sslmode,
            sslrootcert,
            sslcert: None,
            sslkey: None,
            sslpassword: Secret::default(),
            application_name: "t".into(),
            connect_timeout: Duration::from_secs(1),
            initial_statements: Vec::new(),
        }
    }

    #[test]
    fn unverified_modes_need_no_roots() {
        let missing = Some("/nonexistent/root.crt".into());
        assert!(client_config(&params(SslMode::Require, missing.clone())).is_ok());
        assert!(client_config(&params(SslMode::Prefer, missing)).is_ok());
    }

    #[test]
    fn missing_root_file_names_the_setting() {
        let err = client_config(&params(
            SslMode::VerifyFull,
            Some("/nonexistent/root.crt".into()),
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/root.crt"), "{text}");
        assert!(text.contains("database.sslrootcert"), "{text}");
    }

    #[test]
    fn server_names_accept_hosts_and_addresses() {
        assert!(server_name("localhost").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("not a host").is_err());
    }
}
