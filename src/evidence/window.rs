//! Judgement windows: how long a client may take, by its own declared bounds, to show a
//! fault's effect. A checker demands nothing of a client before its window closes, and
//! where the run ends first it says *not judged* rather than guess either way.
//!
//! The client's documented liveness rule: any frame received is life; a connection is
//! declared dead when a ping goes unanswered for `pong_timeout` after `ping_interval` of
//! quiet. The server keeps the same rule with its own numbers.

use std::time::Duration;

use crate::client::Policy;
use crate::history::Fault;
use crate::server::ServerConfig;

/// How a fault reaches a client's open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// It does not touch an open connection of this client: another link, a latency
    /// change, or a fault that acts on new handshakes only (`flap`, `reject`).
    Untouched,
    /// The client hears of it at once: end of stream, or a close frame.
    AtOnce,
    /// Silently: the connection may look alive to the client for up to this long.
    Silent(Duration),
}

/// How `fault` reaches the open connection of a client on `host` with `client`'s policy,
/// against a server with `server`'s heartbeat.
///
/// A cut of both directions (or of the server's) is noticed by the client's own heartbeat
/// within `ping_interval + pong_timeout`. A cut of only the client's direction is not, when
/// the server goes on sending: every frame it receives is life to the client. The server's
/// heartbeat then ends the connection, and its close frame gets through; so the bound is
/// the larger of the two detections.
pub fn reach(fault: &Fault, host: &str, client: &Policy, server: &ServerConfig) -> Reach {
    let own = client.detection_bound();
    match fault {
        Fault::Crash | Fault::Shutdown { .. } | Fault::Kick { .. } => Reach::AtOnce,
        Fault::Die => Reach::Silent(own),
        Fault::Partition { link } | Fault::Hold { link } if link.joins_server_and(host) => {
            if link.oneway && link.a == host {
                Reach::Silent(own.max(server.ping_interval + server.pong_timeout))
            } else {
                Reach::Silent(own)
            }
        }
        _ => Reach::Untouched,
    }
}

/// How long a dial made while a fault holds may hang before the client's own timeouts end
/// it, in a world: its model of what a stopped server or a black hole does to a dial.
pub type Hang = fn(&Fault, &Policy) -> Duration;

/// The simulation's dials: a stopped server's host does not answer a dial (turmoil), so it
/// hangs until the connect timeout; a black hole holds the dial or its upgrade, and a cut
/// drops the answer to a dial already under way, until the connect or the handshake
/// timeout. A server handing its socket over accepts the dials made meanwhile when the
/// next one starts.
pub fn simulated_hang(fault: &Fault, policy: &Policy) -> Duration {
    match fault {
        Fault::Crash | Fault::Shutdown { hand_over: false } | Fault::Die => policy.connect_timeout,
        Fault::Hold { .. } | Fault::Partition { .. } => {
            policy.connect_timeout.max(policy.handshake_timeout)
        }
        _ => Duration::ZERO,
    }
}

/// The real network's dials: a stopped server refuses them at once; a black hole or a cut
/// (the proxy holding or dropping the link) leaves a dial under way waiting for its
/// upgrade, until the handshake timeout.
pub fn real_hang(fault: &Fault, policy: &Policy) -> Duration {
    match fault {
        Fault::Hold { .. } | Fault::Partition { .. } => {
            policy.connect_timeout.max(policy.handshake_timeout)
        }
        _ => Duration::ZERO,
    }
}

/// The longest a client with `policy` may take to be connected again once it has noticed
/// a lost connection and the world is whole again, at its first retry: a dial still hanging
/// from the outage runs out its `hang`, then the retry waits at most the first backoff
/// bound. Later retries may wait longer; a checker that finds a client waiting out such a
/// delay, announced and within the policy, says it could not judge it.
pub fn redial(policy: &Policy, hang: Duration) -> Duration {
    hang.saturating_add(policy.delay_bound(1))
}

/// A fault as one client lives it: when it may have noticed, and when it is due back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When the fault began (ms).
    pub from: u64,
    /// The last moment the client may still believe a connection alive that the fault
    /// ended (ms): the fault's beginning for one it hears of at once.
    pub noticed_by: u64,
    /// When a client that was connected must be connected again (ms): after it noticed
    /// and the fault healed, one redial ([`redial`]). `None`: the fault never heals in
    /// the run.
    pub due: Option<u64>,
}

/// The window `fault`, from `from` to `to` (ms; `None`: never healed), opens for a client
/// on `host` with `policy`, in a world whose dials hang as `hang` says; `None` when it does
/// not reach the client's connection.
pub fn window(
    fault: &Fault,
    (from, to): (u64, Option<u64>),
    (host, policy): (&str, &Policy),
    server: &ServerConfig,
    hang: Hang,
) -> Option<Window> {
    let noticed_by = match reach(fault, host, policy, server) {
        Reach::Untouched => return None,
        Reach::AtOnce => from,
        // A cut that heals before the client's heartbeat noticed it may leave the stream
        // dead in one direction only (the segments lost in it are never sent again): if it
        // is the client's, the server's frames (its pings among them) still arrive and are
        // life to the client, and only the server's heartbeat ends the connection.
        Reach::Silent(d)
            if matches!(fault, Fault::Partition { .. })
                && to.is_some_and(|to| to < from.saturating_add(ms(d))) =>
        {
            let server = server.ping_interval.saturating_add(server.pong_timeout);
            from.saturating_add(ms(d.max(server)))
        }
        Reach::Silent(d) => from.saturating_add(ms(d)),
    };
    let due = to.map(|to| {
        noticed_by
            .max(to)
            .saturating_add(ms(redial(policy, hang(fault, policy))))
    });
    Some(Window {
        from,
        noticed_by,
        due,
    })
}

/// A duration in whole milliseconds, saturating.
pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds as a reader wants them: `2.0 s`, `750 ms`.
pub fn show(ms: u64) -> String {
    if ms >= 1000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Link;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_one_way_cut_of_the_clients_direction_waits_for_the_servers_heartbeat() {
        let client = Policy {
            ping_interval: secs(2),
            pong_timeout: secs(1),
            ..Policy::default()
        };
        let server = ServerConfig::default(); // 10 s + 5 s
        let cut = |a: &str, b: &str, oneway| Fault::Partition {
            link: Link::new(a, b, oneway),
        };
        assert_eq!(
            reach(&cut("h", "server", true), "h", &client, &server),
            Reach::Silent(secs(15))
        );
        assert_eq!(
            reach(&cut("server", "h", true), "h", &client, &server),
            Reach::Silent(secs(3))
        );
        assert_eq!(
            reach(&cut("h", "server", false), "h", &client, &server),
            Reach::Silent(secs(3))
        );
        assert_eq!(
            reach(&cut("other", "server", false), "h", &client, &server),
            Reach::Untouched
        );
    }

    #[test]
    fn a_window_closes_after_notice_heal_and_one_redial() {
        let p = Policy::default(); // detection 15 s, first retry within 0.5 s
        let s = ServerConfig::default();
        let w = |f: &Fault, at| window(f, at, ("h", &p), &s, simulated_hang);
        let kick = w(&Fault::Kick { code: 1012 }, (7000, Some(7000)));
        assert_eq!(
            kick,
            Some(Window {
                from: 7000,
                noticed_by: 7000,
                due: Some(7500)
            })
        );
        let link = Link::new("h", "server", false);
        let cut = w(&Fault::Partition { link }, (46_000, Some(49_000)));
        // Noticed by 61 s, then a dial caught by the cut may wait out its timeouts (5 s).
        assert_eq!(cut.and_then(|w| w.due), Some(66_500));
        // A simulated crash's dials hang: one in flight at the start runs out its connect
        // timeout. On the real network the stopped server refuses it at once.
        let crash = w(&Fault::Crash, (1000, Some(3000)));
        assert_eq!(crash.and_then(|w| w.due), Some(8_500));
        let real = window(&Fault::Crash, (1000, Some(3000)), ("h", &p), &s, real_hang);
        assert_eq!(real.and_then(|w| w.due), Some(3_500));
        assert_eq!(w(&Fault::Flap, (0, Some(1))), None);
    }

    #[test]
    fn huge_durations_saturate() {
        let p = Policy {
            ping_interval: Duration::MAX / 2,
            pong_timeout: Duration::MAX / 2,
            ..Policy::default()
        };
        let server = ServerConfig::default();
        let w = window(
            &Fault::Die,
            (5, Some(6)),
            ("h", &p),
            &server,
            simulated_hang,
        );
        assert_eq!(w.map(|w| w.noticed_by), Some(u64::MAX));
    }
}
