//! Fault knobs: how the server answers handshakes, and kicking everyone. The simulation
//! turns them from its timeline; tests can too.

use std::sync::Arc;

use tokio::sync::watch;

/// How the server answers a WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Admission {
    /// Normally.
    #[default]
    Accept,
    /// Complete the handshake, say welcome, then close at once with 1011 (a flapping server).
    Flap,
    /// Refuse with this HTTP status.
    Reject {
        /// The HTTP status, e.g. 503.
        status: u16,
    },
}

/// The server's side of the knobs; pass it to [`super::run_with`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Controls {
    pub(crate) admission: watch::Receiver<Admission>,
    pub(crate) kicks: watch::Receiver<Kick>,
    /// Graceful shutdown orders, counted: a server stops at the first order given after it
    /// started.
    pub(crate) shutdowns: watch::Receiver<u64>,
    /// Names a connection by its peer address, over whatever identity its query gives
    /// (a real-network run knows which client each of its proxies' connections is).
    pub(crate) namer: Option<Namer>,
    _inert: Option<Arc<ControlHandle>>,
}

/// Tells which client a peer address belongs to.
#[derive(Clone)]
pub(crate) struct Namer(Arc<dyn Fn(std::net::SocketAddr) -> Option<String> + Send + Sync>);

impl std::fmt::Debug for Namer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Namer")
    }
}

impl Namer {
    pub(crate) fn name(&self, peer: std::net::SocketAddr) -> Option<String> {
        (self.0)(peer)
    }
}

impl Controls {
    /// Names each connection by its peer address when `namer` knows it, instead of by the
    /// `client=` of its query: for a real-network run, where every client dials through its
    /// own proxy and the proxy's address says who it is.
    pub fn name_peers(
        mut self,
        namer: impl Fn(std::net::SocketAddr) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.namer = Some(Namer(Arc::new(namer)));
        self
    }
}

/// A kick order: close every connection with `code`. `serial` tells repeated kicks apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Kick {
    pub(crate) serial: u64,
    pub(crate) code: u16,
}

/// Turns the knobs.
///
/// ```
/// use wschaos::server::{Admission, controls};
/// let (handle, controls) = controls();
/// handle.admit(Admission::Reject { status: 503 });
/// handle.kick(1001);
/// # drop(controls);
/// ```
#[derive(Debug)]
pub struct ControlHandle {
    admission: watch::Sender<Admission>,
    kicks: watch::Sender<Kick>,
    shutdowns: watch::Sender<u64>,
}

/// A connected pair of knobs.
pub fn controls() -> (ControlHandle, Controls) {
    let (admission, admission_rx) = watch::channel(Admission::Accept);
    let (kicks, kicks_rx) = watch::channel(Kick::default());
    let (shutdowns, shutdowns_rx) = watch::channel(0);
    (
        ControlHandle {
            admission,
            kicks,
            shutdowns,
        },
        Controls {
            admission: admission_rx,
            kicks: kicks_rx,
            shutdowns: shutdowns_rx,
            namer: None,
            _inert: None,
        },
    )
}

impl Default for Controls {
    /// Knobs nobody turns: admission stays `Accept`, nobody is kicked.
    fn default() -> Self {
        let (handle, mut controls) = controls();
        controls._inert = Some(Arc::new(handle));
        controls
    }
}

impl ControlHandle {
    /// Orders the running server to shut down gracefully, as its `shutdown` future would:
    /// stop accepting, send what is queued, close every connection with 1012, return.
    pub fn shut_down(&self) {
        self.shutdowns.send_modify(|n| *n += 1);
    }

    /// Sets how handshakes are answered from now on.
    pub fn admit(&self, admission: Admission) {
        self.admission.send_replace(admission);
    }

    /// Closes every current connection with `code`; the server keeps accepting.
    pub fn kick(&self, code: u16) {
        self.kicks.send_modify(|k| {
            k.serial += 1;
            k.code = code;
        });
    }
}
