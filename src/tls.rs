//! TLS for `wss://`: the server's identity ([`ServerTls`]), what a client trusts
//! ([`ClientTls`]), and [`MaybeTls`], the one stream type both run over, plain or encrypted.
//!
//! rustls with the `ring` provider, TLS 1.2 and 1.3. A client dialing `wss://` trusts the
//! Mozilla root store (webpki-roots) unless told otherwise; tests and private deployments
//! trust their own CA with [`ClientTls::trusting_pem`].
//!
//! All of it is the `tls` feature (on by default, and with `cli`). Without it, `wss://` is
//! refused with a reason, [`ServerTls`] and [`ClientTls`] have no values (so a
//! configuration can never hold one), and [`MaybeTls`] is always plain: no rustls, ring or
//! root store in the build.
//!
//! ```
//! use wschaos::tls::{ClientTls, ServerTls};
//! let id = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
//! let server = ServerTls::from_pem(id.cert.pem().as_bytes(), id.signing_key.serialize_pem().as_bytes())?;
//! let client = ClientTls::trusting_pem(id.cert.pem().as_bytes())?;
//! # let _ = (server, client);
//! # Ok::<(), wschaos::tls::TlsError>(())
//! ```

use std::io;
#[cfg(feature = "tls")]
use std::path::Path;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};

#[cfg(feature = "tls")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A certificate, key or TLS configuration that cannot be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM input holds no usable certificate or key.
    #[error("{what}: {reason}")]
    Pem {
        /// Which input.
        what: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// rustls refused the certificate or key.
    #[cfg(feature = "tls")]
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

#[cfg(feature = "tls")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(feature = "tls")]
fn pem_error(what: &str, reason: impl ToString) -> TlsError {
    TlsError::Pem {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(feature = "tls")]
fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(pem_error(what, "no CERTIFICATE block"));
    }
    Ok(certs)
}

/// The server side of `wss://`: a certificate chain and its private key.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct ServerTls(Arc<rustls::ServerConfig>);

/// The server side of `wss://`, which needs the `tls` feature: without it there is no
/// value of this type, so no server can be configured for `wss://`.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTls {}

#[cfg(not(feature = "tls"))]
impl ServerTls {
    pub(crate) async fn accept<S>(&self, _stream: S) -> io::Result<MaybeTls<S>> {
        match *self {}
    }
}

#[cfg(feature = "tls")]
impl ServerTls {
    /// From a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<ServerTls, TlsError> {
        let chain = certificates("certificate chain", cert_chain)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| pem_error("private key", e))?;
        ServerTls::from_der(chain, key)
    }

    /// From PEM files, as `wschaos serve --tls-cert --tls-key` takes them.
    pub fn from_pem_files(cert_chain: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        let read = |p: &Path| std::fs::read(p).map_err(|e| pem_error(&p.display().to_string(), e));
        ServerTls::from_pem(&read(cert_chain)?, &read(key)?)
    }

    /// From DER: the chain (leaf first) and the key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerTls, TlsError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(ServerTls(Arc::new(config)))
    }

    /// Any rustls configuration (client certificates, ALPN, session tickets...).
    pub fn from_config(config: Arc<rustls::ServerConfig>) -> ServerTls {
        ServerTls(config)
    }

    /// Runs the server side of the TLS handshake over `stream`.
    pub(crate) async fn accept<S>(&self, stream: S) -> io::Result<MaybeTls<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = tokio_rustls::TlsAcceptor::from(self.0.clone())
            .accept(stream)
            .await?;
        Ok(MaybeTls::Server(Box::new(tls)))
    }
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls(..)")
    }
}

/// Two configurations are equal when they are the same one.
#[cfg(feature = "tls")]
impl PartialEq for ServerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a client dialing `wss://` trusts.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct ClientTls(Arc<rustls::ClientConfig>);

/// What a client dialing `wss://` trusts, which needs the `tls` feature: without it there
/// is no value of this type (and `wss://` URLs are refused).
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTls {}

#[cfg(not(feature = "tls"))]
impl ClientTls {
    pub(crate) async fn connect<S>(&self, _host: &str, _stream: S) -> io::Result<MaybeTls<S>> {
        match *self {}
    }
}

#[cfg(feature = "tls")]
impl ClientTls {
    /// The Mozilla root store (webpki-roots): public certificates. The default for `wss://`.
    pub fn public_roots() -> ClientTls {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        ClientTls::with_roots(roots).expect("the ring provider supports the safe defaults")
    }

    /// Trust only the certificates in `pem` (a private CA, or a self-signed server).
    pub fn trusting_pem(pem: &[u8]) -> Result<ClientTls, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in certificates("trusted certificates", pem)? {
            roots.add(cert)?;
        }
        ClientTls::with_roots(roots)
    }

    /// Trust only the certificates in a PEM file, as `wschaos connect --ca-cert` takes it.
    pub fn trusting_pem_file(path: &Path) -> Result<ClientTls, TlsError> {
        let pem = std::fs::read(path).map_err(|e| pem_error(&path.display().to_string(), e))?;
        ClientTls::trusting_pem(&pem)
    }

    /// Any rustls configuration (client certificates, a custom verifier...).
    pub fn from_config(config: Arc<rustls::ClientConfig>) -> ClientTls {
        ClientTls(config)
    }

    fn with_roots(roots: rustls::RootCertStore) -> Result<ClientTls, TlsError> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ClientTls(Arc::new(config)))
    }

    /// Runs the client side of the TLS handshake for `host` over `stream`.
    pub(crate) async fn connect<S>(&self, host: &str, stream: S) -> io::Result<MaybeTls<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let connector = tokio_rustls::TlsConnector::from(self.0.clone());
        let tls = connector.connect(name, stream).await?;
        Ok(MaybeTls::Client(Box::new(tls)))
    }
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls(..)")
    }
}

/// Two configurations are equal when they are the same one.
#[cfg(feature = "tls")]
impl PartialEq for ClientTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(feature = "tls")]
impl Eq for ClientTls {}

/// A byte stream, plain or inside TLS: one type for `ws://` and `wss://`.
#[derive(Debug)]
pub enum MaybeTls<S> {
    /// `ws://`.
    Plain(S),
    /// `wss://`, client side.
    #[cfg(feature = "tls")]
    Client(Box<tokio_rustls::client::TlsStream<S>>),
    /// `wss://`, server side.
    #[cfg(feature = "tls")]
    Server(Box<tokio_rustls::server::TlsStream<S>>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Client(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Server(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Client(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Server(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Client(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Server(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Client(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Server(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
