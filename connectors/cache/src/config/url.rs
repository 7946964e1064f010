//! Redis URLs: `redis://` and `rediss://` (TLS) with `[user:password@]host:port/db`, and
//! `redis+sentinel://[user:password@]host:port[,host:port…]/<master name>[/db]`.
//!
//! Host lists (`host:port,host:port`) name a cluster's seed nodes (with `redis.cluster`)
//! or the Sentinels. Credentials are percent-decoded and belong to the data nodes.
//! `unix://` and query strings are refused with a hint, so a setting the sink would
//! silently ignore is never accepted.

/// The parts of a Redis URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl {
    /// `rediss://`.
    pub tls: bool,
    /// The hosts named: one server, cluster seeds or Sentinels.
    pub hosts: Vec<(String, u16)>,
    /// `redis+sentinel://`: the master's name the Sentinels know it by.
    pub sentinel_master: Option<String>,
    pub db: u32,
    pub username: Option<String>,
    pub password: Option<String>,
}

const SHAPE: &str = "write redis://[user:password@]host:port/db (rediss:// for TLS), e.g. redis://127.0.0.1:6379/0, or redis+sentinel://host:26379,host:26379/<master name>/db";

pub(crate) fn parse(url: &str) -> Result<RedisUrl, String> {
    let (rest, tls, sentinel) = if let Some(rest) = url.strip_prefix("redis://") {
        (rest, false, false)
    } else if let Some(rest) = url.strip_prefix("rediss://") {
        (rest, true, false)
    } else if let Some(rest) = url.strip_prefix("redis+sentinel://") {
        (rest, false, true)
    } else if url.starts_with("rediss+sentinel://") {
        return Err(format!(
            "TLS through Sentinel is not supported; connect to the master with rediss:// instead, or {SHAPE}"
        ));
    } else if url.starts_with("unix://") || url.starts_with("redis+unix://") {
        return Err(format!("Unix sockets are not supported; {SHAPE}"));
    } else {
        return Err(format!("is not a Redis URL; {SHAPE}"));
    };
    if rest.contains(['?', '#']) {
        return Err(format!("URL options (?…) are not supported; {SHAPE}"));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostlist) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let default_port = if sentinel { 26379 } else { 6379 };
    let hosts = hostlist
        .split(',')
        .map(|h| split_host_port(h, default_port))
        .collect::<Result<Vec<_>, _>>()?;
    let db_of = |p: &str| match p {
        "" => Ok(0),
        p => p
            .parse::<u32>()
            .map_err(|_| format!("{p:?} is not a database index (a number such as 0); {SHAPE}")),
    };
    let (sentinel_master, db) = if sentinel {
        let (master, db) = path.split_once('/').unwrap_or((path, ""));
        if master.is_empty() {
            return Err(format!(
                "names no master: the path is the name the Sentinels monitor it by; {SHAPE}"
            ));
        }
        (Some(decode(master)?), db_of(db)?)
    } else {
        (None, db_of(path)?)
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, pass) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            let user = Some(decode(user)?).filter(|u| !u.is_empty());
            let pass = match pass {
                Some(p) => Some(decode(p)?).filter(|p| !p.is_empty()),
                None => None,
            };
            (user, pass)
        }
    };
    Ok(RedisUrl {
        tls,
        hosts,
        sentinel_master,
        db,
        username,
        password,
    })
}

fn split_host_port(hostport: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("the IPv6 address has no closing ']'; {SHAPE}"))?;
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected {p:?} after the host; {SHAPE}")),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(format!("names no host; {SHAPE}"));
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("{p:?} is not a TCP port number; {SHAPE}")),
        },
    };
    Ok((host.to_string(), port))
}

/// Percent-decodes URL userinfo (`%40` → `@`).
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("has a malformed %-escape in its user or password; write a byte as %XX")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "user or password is not UTF-8 after %-decoding".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, db: u32, user: Option<&str>, pass: Option<&str>) -> RedisUrl {
        RedisUrl {
            tls: false,
            hosts: vec![(host.into(), port)],
            sentinel_master: None,
            db,
            username: user.map(Into::into),
            password: pass.map(Into::into),
        }
    }

    #[test]
    fn urls_name_host_port_db_and_credentials() {
        assert_eq!(
            parse("redis://127.0.0.1:6379/0"),
            Ok(url("127.0.0.1", 6379, 0, None, None))
        );
        assert_eq!(
            parse("redis://cache"),
            Ok(url("cache", 6379, 0, None, None))
        );
        assert_eq!(
            parse("redis://cache:7000/3"),
            Ok(url("cache", 7000, 3, None, None))
        );
        assert_eq!(
            parse("redis://:s%40cret@cache/1"),
            Ok(url("cache", 6379, 1, None, Some("s@cret")))
        );
        assert_eq!(
            parse("redis://alice:pw:x@[::1]:6380/2"),
            Ok(url("::1", 6380, 2, Some("alice"), Some("pw:x")))
        );
        assert_eq!(
            parse("redis://bob@h/"),
            Ok(url("h", 6379, 0, Some("bob"), None))
        );
        let tls = parse("rediss://h:6380/0").unwrap();
        assert!(tls.tls);
        assert_eq!(tls.hosts, [("h".to_string(), 6380)]);
    }

    #[test]
    fn host_lists_and_sentinel_masters() {
        let seeds = parse("redis://u:p@a:7000,b:7001,[::1]").unwrap();
        assert_eq!(
            seeds.hosts,
            [
                ("a".to_string(), 7000),
                ("b".to_string(), 7001),
                ("::1".to_string(), 6379)
            ]
        );
        assert_eq!(seeds.username.as_deref(), Some("u"));
        let s = parse("redis+sentinel://:pw@s1,s2:26380/my%20master/3").unwrap();
        assert_eq!(
            s.hosts,
            [("s1".to_string(), 26379), ("s2".to_string(), 26380)]
        );
        assert_eq!(s.sentinel_master.as_deref(), Some("my master"));
        assert_eq!(s.db, 3);
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert!(
            parse("redis+sentinel://s1:26379")
                .unwrap_err()
                .contains("names no master")
        );
        assert!(parse("rediss+sentinel://s1/m").unwrap_err().contains("TLS"));
    }

    #[test]
    fn sockets_options_and_malformed_urls_are_refused_with_a_hint() {
        assert!(
            parse("unix:///tmp/redis.sock")
                .unwrap_err()
                .contains("Unix")
        );
        assert!(parse("http://h").unwrap_err().contains("redis://"));
        assert!(parse("redis://h?db=1").unwrap_err().contains("options"));
        assert!(parse("redis://h:port").unwrap_err().contains("port"));
        assert!(parse("redis://h:0").unwrap_err().contains("port"));
        assert!(parse("redis://h/x").unwrap_err().contains("database index"));
        assert!(parse("redis://:6379").unwrap_err().contains("no host"));
        assert!(parse("redis://a,").unwrap_err().contains("no host"));
        assert!(parse("redis://[::1").unwrap_err().contains("']'"));
        assert!(parse("redis://:%zz@h").unwrap_err().contains("%-escape"));
    }
}
