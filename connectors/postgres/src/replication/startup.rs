//! Opening a replication session: startup packet, authentication, session parameters.
//!
//! The startup packet asks for `replication=database` (a walsender that also accepts SQL)
//! and carries [`SESSION_SETTINGS`] as ordinary startup parameters. Authentication
//! supports trust, cleartext password, md5 and SCRAM-SHA-256. SCRAM runs without channel
//! binding, announced as such (`n,,`), so a server that also offers `-PLUS` accepts it.

use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::frontend;

use super::wire::{Frame, Wire, be_i32, cstr, log_notice};
use crate::conn::{ConnError, ConnectParams, SESSION_SETTINGS, startup_hint};

/// What the server told us while the session started.
#[derive(Debug, Default)]
pub(super) struct SessionInfo {
    pub server_version: String,
    pub backend_pid: i32,
}

const AUTH_OK: i32 = 0;
const AUTH_CLEARTEXT: i32 = 3;
const AUTH_MD5: i32 = 5;
const AUTH_SASL: i32 = 10;
const AUTH_SASL_CONTINUE: i32 = 11;
const AUTH_SASL_FINAL: i32 = 12;

/// Sends the startup packet, authenticates and reads up to the first `ReadyForQuery`.
/// With `replication` false the session is an ordinary backend (for bulk COPY reads).
pub(super) async fn startup(
    wire: &mut Wire,
    params: &ConnectParams,
    replication: bool,
) -> Result<SessionInfo, ConnError> {
    let mut startup_params: Vec<(&str, &str)> = vec![
        ("user", &params.user),
        ("database", &params.dbname),
        ("application_name", &params.application_name),
    ];
    if replication {
        startup_params.push(("replication", "database"));
    }
    startup_params.extend_from_slice(SESSION_SETTINGS);
    frontend::startup_message(startup_params, wire.out()).map_err(encode_error)?;
    wire.flush().await?;

    authenticate(wire, params).await?;

    let mut info = SessionInfo::default();
    loop {
        let frame = wire.read_frame().await?;
        match frame.tag {
            b'S' => {
                let (name, rest) = cstr(&frame.body)?;
                let (value, _) = cstr(rest)?;
                if name == "server_version" {
                    info.server_version = value.to_string();
                }
            }
            b'K' => info.backend_pid = be_i32(&frame.body, 0)?,
            b'Z' => return Ok(info),
            b'E' => return Err(server_error(&frame, params)),
            b'N' => log_notice(&frame.body),
            other => return Err(unexpected(other, "while starting the session")),
        }
    }
}

async fn authenticate(wire: &mut Wire, params: &ConnectParams) -> Result<(), ConnError> {
    loop {
        let frame = read_auth(wire, params).await?;
        let body = &frame.body[4..];
        match be_i32(&frame.body, 0)? {
            AUTH_OK => return Ok(()),
            AUTH_CLEARTEXT => {
                let password = password(params, "password")?;
                frontend::password_message(password.as_bytes(), wire.out())
                    .map_err(encode_error)?;
                wire.flush().await?;
            }
            AUTH_MD5 => {
                let password = password(params, "md5")?;
                let salt = body
                    .get(..4)
                    .and_then(|s| <[u8; 4]>::try_from(s).ok())
                    .ok_or_else(|| ConnError::protocol("md5 request without a 4-byte salt"))?;
                let hash = md5_hash(params.user.as_bytes(), password.as_bytes(), salt);
                frontend::password_message(hash.as_bytes(), wire.out()).map_err(encode_error)?;
                wire.flush().await?;
            }
            AUTH_SASL => {
                let mechanisms = sasl_mechanisms(body)?;
                if !mechanisms.contains(&SCRAM_SHA_256) {
                    return Err(ConnError::Auth {
                        user: params.user.clone(),
                        message: format!(
                            "the server offers only SASL mechanisms {mechanisms:?}, and \
                             Tributary supports SCRAM-SHA-256"
                        ),
                        hint: "allow scram-sha-256 for this user in pg_hba.conf".into(),
                    });
                }
                scram(wire, params).await?;
            }
            method => {
                let name = match method {
                    2 => "Kerberos V5",
                    6 => "SCM credentials",
                    7 | 8 => "GSSAPI",
                    9 => "SSPI",
                    _ => "unknown",
                };
                return Err(ConnError::Auth {
                    user: params.user.clone(),
                    message: format!(
                        "the server asks for {name} authentication (code {method}), which \
                         Tributary does not support"
                    ),
                    hint: "allow scram-sha-256, md5 or password for this user in pg_hba.conf"
                        .into(),
                });
            }
        }
    }
}

/// SCRAM-SHA-256 after the server's `AuthenticationSASL`.
async fn scram(wire: &mut Wire, params: &ConnectParams) -> Result<(), ConnError> {
    let password = password(params, "scram-sha-256")?;
    let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
    frontend::sasl_initial_response(SCRAM_SHA_256, scram.message(), wire.out())
        .map_err(encode_error)?;
    wire.flush().await?;

    let frame = read_auth(wire, params).await?;
    expect_auth(&frame, AUTH_SASL_CONTINUE)?;
    scram
        .update(&frame.body[4..])
        .map_err(|e| ConnError::protocol(format!("bad SCRAM server-first message: {e}")))?;
    frontend::sasl_response(scram.message(), wire.out()).map_err(encode_error)?;
    wire.flush().await?;

    let frame = read_auth(wire, params).await?;
    expect_auth(&frame, AUTH_SASL_FINAL)?;
    scram.finish(&frame.body[4..]).map_err(|e| ConnError::Auth {
        user: params.user.clone(),
        message: format!("the server's SCRAM signature does not verify: {e}"),
        hint: "the server does not know this password, or something between us and it \
                   is impersonating it; check database.password and database.hostname"
            .into(),
    })
}

/// The next authentication request; errors (wrong password) come back with our hint.
async fn read_auth(wire: &mut Wire, params: &ConnectParams) -> Result<Frame, ConnError> {
    loop {
        let frame = wire.read_frame().await?;
        match frame.tag {
            b'R' if frame.body.len() >= 4 => return Ok(frame),
            b'E' => return Err(server_error(&frame, params)),
            b'N' => log_notice(&frame.body),
            other => return Err(unexpected(other, "during authentication")),
        }
    }
}

fn expect_auth(frame: &Frame, code: i32) -> Result<(), ConnError> {
    let got = be_i32(&frame.body, 0)?;
    if got != code {
        return Err(ConnError::protocol(format!(
            "expected authentication message {code}, got {got}"
        )));
    }
    Ok(())
}

fn password<'a>(params: &'a ConnectParams, method: &str) -> Result<&'a str, ConnError> {
    if params.password.is_empty() {
        return Err(ConnError::Auth {
            user: params.user.clone(),
            message: format!("the server asks for {method} authentication and no password is set"),
            hint: "set database.password".into(),
        });
    }
    Ok(params.password.expose())
}

fn sasl_mechanisms(mut body: &[u8]) -> Result<Vec<&str>, ConnError> {
    let mut out = Vec::new();
    while !body.is_empty() && body[0] != 0 {
        let (name, rest) = cstr(body)?;
        out.push(name);
        body = rest;
    }
    Ok(out)
}

fn server_error(frame: &Frame, params: &ConnectParams) -> ConnError {
    ConnError::from_error_fields(&frame.body)
        .or_hint(|code, _| startup_hint(code, &params.user, &params.dbname))
}

pub(super) fn unexpected(tag: u8, when: &str) -> ConnError {
    ConnError::protocol(format!("unexpected message {:?} {when}", char::from(tag)))
}

pub(super) fn encode_error(e: std::io::Error) -> ConnError {
    ConnError::protocol(format!("cannot encode message: {e}"))
}

/// `server_version` as a number like `server_version_num`: `15.4` → 150004,
/// `9.6.24` → 90624, `17beta1` → 170000.
pub(super) fn version_num(version: &str) -> Option<u32> {
    let numeric: String = version
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = numeric.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().filter(|&m| m > 0)?;
    let minor = parts.next().unwrap_or(0);
    if major >= 10 {
        Some(major * 10_000 + minor)
    } else {
        Some(major * 10_000 + minor * 100 + parts.next().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions_become_numbers() {
        assert_eq!(version_num("15.4"), Some(150004));
        assert_eq!(version_num("15.20 (Debian 15.20-0+deb12u1)"), Some(150020));
        assert_eq!(version_num("9.6.24"), Some(90624));
        assert_eq!(version_num("17beta1"), Some(170000));
        assert_eq!(version_num("devel"), None);
    }

    #[test]
    fn sasl_mechanism_lists_are_parsed() {
        let body = b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0";
        assert_eq!(
            sasl_mechanisms(body).unwrap(),
            vec!["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
        );
    }
}
