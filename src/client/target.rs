//! Where the client dials: a `ws://` or `wss://` URL split into what the connector, the TLS
//! handshake and the WebSocket handshake need.

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{self, HeaderName, HeaderValue, Uri};

use super::ClientError;
use crate::tls::ClientTls;

/// A parsed `ws[s]://host[:port][/path][?query]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) url: String,
    /// Extra handshake headers (an `Authorization` bearer token).
    pub(crate) headers: Vec<(String, String)>,
    /// `wss://`: what the TLS handshake trusts. `None` for `ws://`.
    pub(crate) tls: Option<ClientTls>,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.into(),
            reason: reason.into(),
        };
        let uri: Uri = url.parse().map_err(|e| invalid(&format!("{e}")))?;
        let (tls, default_port) = match uri.scheme_str() {
            Some("ws") => (None, 80),
            #[cfg(feature = "tls")]
            Some("wss") => (Some(ClientTls::public_roots()), 443),
            #[cfg(not(feature = "tls"))]
            Some("wss") => {
                return Err(invalid(
                    "wss:// needs wschaos's `tls` feature (on by default), which this build leaves out",
                ));
            }
            Some(other) => {
                return Err(invalid(&format!(
                    "scheme {other}:// is not a WebSocket scheme; use ws:// or wss://"
                )));
            }
            None => return Err(invalid("missing scheme; write ws://host:port/")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("missing host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Target {
            host,
            port: uri.port_u16().unwrap_or(default_port),
            url: url.to_string(),
            headers: Vec::new(),
            tls,
        })
    }

    /// The handshake request: the URL and the extra headers.
    pub(crate) fn request(&self) -> Result<Request, tokio_tungstenite::tungstenite::Error> {
        let mut request = self.url.as_str().into_client_request()?;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(http::Error::from)?;
            let value = HeaderValue::from_str(value).map_err(http::Error::from)?;
            request.headers_mut().insert(name, value);
        }
        Ok(request)
    }

    /// The same target with `key=value` added to the query string.
    pub(crate) fn with_query(&self, key: &str, value: &str) -> Target {
        let (base, fragment) = match self.url.split_once('#') {
            Some((b, f)) => (b, format!("#{f}")),
            None => (self.url.as_str(), String::new()),
        };
        let sep = if base.contains('?') {
            '&'
        } else if base
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/'))
        {
            '?'
        } else {
            '/'
        };
        let sep = if sep == '/' {
            "/?".to_string()
        } else {
            sep.to_string()
        };
        let url = format!("{base}{sep}{key}={}{fragment}", encode(value));
        Target {
            url,
            ..self.clone()
        }
    }
}

/// Percent-encodes everything outside the URL-safe unreserved set.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_defaults() {
        let t = Target::parse("ws://127.0.0.1:9000/feed").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 9000));
        assert_eq!(Target::parse("ws://example.test").unwrap().port, 80);
        assert_eq!(Target::parse("ws://[::1]:7/").unwrap().host, "::1");
        #[cfg(feature = "tls")]
        {
            let secure = Target::parse("wss://example.test/feed").unwrap();
            assert_eq!(secure.port, 443);
            assert!(secure.tls.is_some() && Target::parse("ws://h").unwrap().tls.is_none());
        }
    }

    /// A build without the `tls` feature refuses `wss://` with a reason instead of
    /// dialing it in plain text.
    #[cfg(not(feature = "tls"))]
    #[test]
    fn wss_without_the_tls_feature_is_refused_with_a_reason() {
        let e = Target::parse("wss://example.test/")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`tls` feature"), "{e}");
    }

    #[test]
    fn rejects_what_it_cannot_dial_with_a_reason() {
        for (url, needle) in [
            ("http://x:1/", "not a WebSocket scheme"),
            ("x:1", "scheme"),
            ("ws://", ""),
        ] {
            let err = Target::parse(url).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn adds_query_parameters() {
        let t = Target::parse("ws://h:1").unwrap();
        assert_eq!(t.with_query("client", "a b").url, "ws://h:1/?client=a%20b");
        let t = Target::parse("ws://h:1/x?y=1").unwrap();
        assert_eq!(t.with_query("client", "c").url, "ws://h:1/x?y=1&client=c");
        let t = Target::parse("ws://h:1/x").unwrap();
        assert_eq!(t.with_query("client", "c").url, "ws://h:1/x?client=c");
        let t = Target::parse("wss://h").unwrap();
        assert_eq!(t.with_query("client", "c").url, "wss://h/?client=c");
    }
}
