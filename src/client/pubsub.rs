//! The pub/sub session: topics restored after every reconnect, an outbox with ids, resume
//! positions and gap notices.
//!
//! Ordering on every new connection, and why:
//! 1. one `subscribe` per wanted topic, with its resume position: the server state is rebuilt
//!    from the client's intent, so a topic unsubscribed while offline is not revived and no
//!    topic is sent twice (pending subscribe/unsubscribe frames of the old connection are
//!    dropped, the intent already holds their effect);
//! 2. publishes that were sent but never acknowledged, then the offline outbox, in id order:
//!    the server drops ids it has seen, so a resend after an uncertain write is harmless.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Message;

use super::defects::{Defect, Defects};
use super::events::{Delivery, ServerEvent, TopicEvent};
use super::fanout::Fanout;
use super::shared::Session;
use super::tap::{Tap, Tapped};
use super::{ClientError, Policy};
use crate::protocol::{Change, ClientFrame, GapReason, Position, ServerFrame, validate_topic};

pub(crate) struct PubSub {
    topics: BTreeMap<String, Topic>,
    control: VecDeque<ClientFrame>,
    outbox: VecDeque<Outgoing>,
    inflight: VecDeque<Outgoing>,
    next_id: u64,
    capacity: usize,
    buffer: usize,
    connected: bool,
    epoch: u64,
    closed: bool,
    events: Fanout<ServerEvent>,
    /// Publishes not yet acknowledged, for `Client::flushed`.
    pending: watch::Sender<usize>,
    defects: Defects,
    /// Whether a connection was opened before (the next one is a reconnect).
    opened_before: bool,
    /// `Defect::RevivesUnsubscribed`: topics unsubscribed while offline, wrongly kept.
    ghosts: BTreeSet<String>,
    /// `Defect::SendsOutboxTwice`: the frame to send again.
    again: Option<Message>,
    /// Whether this connection's server said welcome (it speaks the protocol).
    welcomed: bool,
    /// The server's number for the current connection (from its welcome).
    conn: u64,
    /// `Defect::StaleFrames`: the last message of a connection, held back until the next.
    stale: Option<Delivery>,
    /// Sees every topic and server event as it is emitted.
    tap: Tap,
}

struct Topic {
    tx: Fanout<TopicEvent>,
    position: Option<Position>,
}

#[derive(Clone)]
struct Outgoing {
    id: u64,
    topic: String,
    data: String,
}

impl PubSub {
    pub(crate) fn new(policy: &Policy, defects: Defects, tap: Tap) -> Self {
        PubSub {
            topics: BTreeMap::new(),
            control: VecDeque::new(),
            outbox: VecDeque::new(),
            inflight: VecDeque::new(),
            next_id: 1,
            capacity: policy.outbox_capacity,
            buffer: policy.subscriber_buffer.max(1),
            connected: false,
            epoch: 0,
            closed: false,
            events: Fanout::new(policy.subscriber_buffer),
            pending: watch::channel(0).0,
            defects,
            opened_before: false,
            ghosts: BTreeSet::new(),
            again: None,
            welcomed: false,
            conn: 0,
            stale: None,
            tap,
        }
    }

    pub(crate) fn subscribe(
        &mut self,
        topic: &str,
    ) -> Result<broadcast::Receiver<Arc<TopicEvent>>, ClientError> {
        self.check_open()?;
        check_topic(topic)?;
        if let Some(existing) = self.topics.get_mut(topic) {
            return Ok(existing.tx.subscribe());
        }
        let mut tx = Fanout::new(self.buffer);
        let rx = tx.subscribe();
        if self.connected && !self.welcomed && self.defects.has(Defect::DropsSubscribeBeforeWelcome)
        {
            return Ok(rx);
        }
        self.topics
            .insert(topic.to_string(), Topic { tx, position: None });
        if self.connected {
            self.control.push_back(ClientFrame::Subscribe {
                topic: topic.into(),
                resume: None,
            });
        }
        Ok(rx)
    }

    pub(crate) fn unsubscribe(&mut self, topic: &str) -> bool {
        let existed = self.topics.remove(topic).is_some();
        if existed && !self.connected && self.defects.has(Defect::RevivesUnsubscribed) {
            self.ghosts.insert(topic.to_string());
        }
        if existed && self.connected && !self.defects.has(Defect::UnsubscribeNeverSent) {
            self.control.push_back(ClientFrame::Unsubscribe {
                topic: topic.into(),
            });
        }
        existed
    }

    pub(crate) fn publish(&mut self, topic: &str, data: String) -> Result<u64, ClientError> {
        self.check_open()?;
        check_topic(topic)?;
        if self.outbox.len() + self.inflight.len() >= self.capacity {
            return Err(ClientError::OutboxFull {
                capacity: self.capacity,
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        self.outbox.push_back(Outgoing {
            id,
            topic: topic.into(),
            data,
        });
        self.count_pending();
        Ok(id)
    }

    pub(crate) fn topics(&self) -> Vec<String> {
        self.topics.keys().cloned().collect()
    }

    pub(crate) fn pending(&self) -> watch::Receiver<usize> {
        self.pending.subscribe()
    }

    fn count_pending(&self) {
        self.pending
            .send_replace(self.outbox.len() + self.inflight.len());
    }

    pub(crate) fn server_events(&mut self) -> broadcast::Receiver<Arc<ServerEvent>> {
        self.events.subscribe()
    }

    fn check_open(&self) -> Result<(), ClientError> {
        if self.closed {
            Err(ClientError::Closed)
        } else {
            Ok(())
        }
    }

    fn handle(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                epoch,
                client,
                online,
                conn,
            } => {
                self.epoch = epoch;
                self.conn = conn;
                if let Some(stale) = self.stale.take() {
                    self.deliver(stale);
                }
                self.emit(ServerEvent::Welcome {
                    epoch,
                    client,
                    online,
                });
            }
            ServerFrame::Presence { changes, online } => self.emit(ServerEvent::Presence {
                changes: changes.into(),
                online,
            }),
            ServerFrame::Joined { client, online } => self.emit(ServerEvent::Presence {
                changes: vec![Change::Joined(client)].into(),
                online,
            }),
            ServerFrame::Left { client, online } => self.emit(ServerEvent::Presence {
                changes: vec![Change::Left(client)].into(),
                online,
            }),
            ServerFrame::Subscribed { topic, epoch, seq } => {
                if let Some(t) = self.topics.get_mut(&topic) {
                    if t.position.is_none_or(|p| p.epoch != epoch) {
                        t.position = Some(Position { epoch, seq });
                    }
                }
            }
            ServerFrame::Unsubscribed { .. } => {}
            ServerFrame::Message {
                topic,
                seq,
                from,
                id,
                data,
            } => self.deliver(Delivery {
                topic,
                epoch: self.epoch,
                seq,
                from,
                id,
                data,
                conn: self.conn,
            }),
            ServerFrame::Gap {
                topic,
                reason,
                next_seq,
            } => self.gap(topic, reason, next_seq),
            ServerFrame::Ack { .. } if self.defects.has(Defect::ResendsAcknowledged) => {}
            ServerFrame::Ack { id, .. } => {
                self.inflight.retain(|m| m.id != id);
                self.count_pending();
            }
            ServerFrame::Error { code, message } => self.emit(ServerEvent::Error { code, message }),
        }
    }

    fn deliver(&mut self, d: Delivery) {
        if self.defects.has(Defect::StaleFrames) && d.conn == self.conn {
            // Hold this one back; let the one held before through (late, by one message).
            match self.stale.replace(d) {
                Some(earlier) => return self.deliver_now(earlier),
                None => return,
            }
        }
        self.deliver_now(d);
    }

    fn deliver_now(&mut self, d: Delivery) {
        let epoch = d.epoch;
        let Some(t) = self.topics.get_mut(&d.topic) else {
            return;
        };
        match t.position {
            // Already delivered before the reconnect: the replay overlaps.
            Some(p) if p.epoch == epoch && d.seq <= p.seq => return,
            // Sequence numbers skipped, or a new epoch, with no notice from the server: the
            // subscriber hears of the loss rather than never knowing.
            Some(p) if p.epoch != epoch || d.seq > p.seq + 1 => {
                let gap = TopicEvent::Gap {
                    topic: d.topic.clone(),
                    reason: GapReason::Missed,
                    epoch,
                    next_seq: d.seq,
                };
                self.tap.see(Tapped::Topic(&gap));
                t.tx.send(gap);
            }
            _ => {}
        }
        t.position = Some(Position { epoch, seq: d.seq });
        let message = TopicEvent::Message(d);
        self.tap.see(Tapped::Topic(&message));
        t.tx.send(message);
    }

    fn gap(&mut self, topic: String, reason: GapReason, next_seq: u64) {
        let epoch = self.epoch;
        let Some(t) = self.topics.get_mut(&topic) else {
            return;
        };
        t.position = Some(Position {
            epoch,
            seq: next_seq.saturating_sub(1),
        });
        let gap = TopicEvent::Gap {
            topic,
            reason,
            epoch,
            next_seq,
        };
        self.tap.see(Tapped::Topic(&gap));
        t.tx.send(gap);
    }

    fn emit(&mut self, event: ServerEvent) {
        self.tap.see(Tapped::Server(&event));
        self.events.send(event);
    }
}

impl Session for PubSub {
    fn ready(&self) -> bool {
        self.welcomed
    }

    fn on_open(&mut self, restore: &mut Vec<Message>) {
        self.connected = true;
        self.welcomed = false;
        self.control.clear();
        let reconnect = std::mem::replace(&mut self.opened_before, true);
        if !(reconnect && self.defects.has(Defect::ForgetsResubscribe)) {
            let times = if reconnect && self.defects.has(Defect::ResubscribesTwice) {
                2
            } else {
                1
            };
            for (topic, t) in &self.topics {
                let resume = t
                    .position
                    .filter(|_| !self.defects.has(Defect::NeverResumes));
                let frame = text(&ClientFrame::Subscribe {
                    topic: topic.clone(),
                    resume,
                });
                restore.extend(std::iter::repeat_n(frame, times));
            }
            for ghost in self.ghosts.iter().filter(|g| !self.topics.contains_key(*g)) {
                restore.push(text(&ClientFrame::Subscribe {
                    topic: ghost.clone(),
                    resume: None,
                }));
            }
        }
        if self.defects.has(Defect::RequeuesAndKeepsInFlight) {
            // Resent at the open as still in flight, and queued again as well.
            for m in &self.inflight {
                restore.push(text(&ClientFrame::Publish {
                    topic: m.topic.clone(),
                    id: m.id,
                    data: m.data.clone(),
                }));
            }
        }
        while let Some(unacked) = self.inflight.pop_back() {
            self.outbox.push_front(unacked);
        }
        if reconnect && self.defects.has(Defect::PublishesBeforeResubscribe) {
            let mut flush = Vec::new();
            while let Some(m) = self.outbox.pop_front() {
                flush.push(text(&ClientFrame::Publish {
                    topic: m.topic.clone(),
                    id: m.id,
                    data: m.data.clone(),
                }));
                self.inflight.push_back(m);
            }
            restore.splice(0..0, flush);
        }
    }

    fn on_frame(&mut self, frame: Message) -> Result<(), String> {
        let parsed = match &frame {
            Message::Text(text) => ServerFrame::from_json(text).map_err(|e| e.to_string()),
            other => Err(format!(
                "unexpected {} frame",
                if other.is_binary() {
                    "binary"
                } else {
                    "control"
                }
            )),
        };
        match parsed {
            Ok(frame) => {
                self.welcomed |= matches!(frame, ServerFrame::Welcome { .. });
                self.handle(frame);
                Ok(())
            }
            // Before a welcome, garbage means the peer is not a wschaos server at all.
            Err(error) if !self.welcomed => Err(format!(
                "the server does not speak the wschaos protocol: {error}"
            )),
            Err(error) => {
                tracing::warn!(%error, "server frame not understood");
                self.emit(ServerEvent::Unintelligible { error });
                Ok(())
            }
        }
    }

    fn next_outgoing(&mut self) -> Option<Message> {
        if let Some(frame) = self.again.take() {
            return Some(frame);
        }
        if let Some(frame) = self.control.pop_front() {
            return Some(text(&frame));
        }
        let m = self.outbox.pop_front()?;
        let frame = ClientFrame::Publish {
            topic: m.topic.clone(),
            id: m.id,
            data: m.data.clone(),
        };
        self.inflight.push_back(m);
        let frame = text(&frame);
        if self.defects.has(Defect::SendsOutboxTwice) {
            self.again = Some(frame.clone());
        }
        Some(frame)
    }

    fn on_lost(&mut self) {
        self.connected = false;
        if self.defects.has(Defect::DropsOutbox) {
            self.outbox.clear();
            self.inflight.clear();
            self.count_pending();
        }
    }

    fn on_close(&mut self) {
        self.closed = true;
        self.connected = false;
        self.topics.clear();
        self.control.clear();
        self.outbox.clear();
        self.inflight.clear();
        self.count_pending();
        self.events.close();
    }
}

fn text(frame: &ClientFrame) -> Message {
    Message::text(frame.to_json())
}

fn check_topic(topic: &str) -> Result<(), ClientError> {
    validate_topic(topic).map_err(|reason| ClientError::BadTopic {
        topic: topic.into(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> PubSub {
        PubSub::new(
            &Policy {
                outbox_capacity: 3,
                ..Policy::default()
            },
            Defects::default(),
            Tap::default(),
        )
    }

    fn drain(s: &mut PubSub) -> Vec<String> {
        std::iter::from_fn(|| s.next_outgoing())
            .map(|m| m.into_text().unwrap().to_string())
            .collect()
    }

    fn open(s: &mut PubSub) -> Vec<String> {
        let mut restore = Vec::new();
        s.on_open(&mut restore);
        restore
            .into_iter()
            .map(|m| m.into_text().unwrap().to_string())
            .collect()
    }

    fn server(s: &mut PubSub, frame: ServerFrame) {
        s.on_frame(Message::text(frame.to_json())).unwrap();
    }

    #[test]
    fn restores_exactly_the_wanted_topics_once() {
        let mut s = session();
        let _a = s.subscribe("a").unwrap();
        let _b = s.subscribe("b").unwrap();
        let _a2 = s.subscribe("a").unwrap();
        assert!(s.unsubscribe("b"));
        let frames = open(&mut s);
        assert_eq!(frames, [r#"{"type":"subscribe","topic":"a"}"#]);
        assert!(
            drain(&mut s).is_empty(),
            "offline subscribe/unsubscribe leave no extra frames"
        );
    }

    #[test]
    fn unacked_publishes_are_resent_before_the_outbox_in_id_order() {
        let mut s = session();
        open(&mut s);
        s.publish("t", "1".into()).unwrap();
        s.publish("t", "2".into()).unwrap();
        assert_eq!(drain(&mut s).len(), 2);
        server(
            &mut s,
            ServerFrame::Ack {
                id: 1,
                duplicate: false,
            },
        );
        s.on_lost();
        s.publish("t", "3".into()).unwrap();
        open(&mut s);
        let ids: Vec<u64> = drain(&mut s)
            .iter()
            .map(|f| match serde_json::from_str::<ClientFrame>(f).unwrap() {
                ClientFrame::Publish { id, .. } => id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, [2, 3]);
    }

    #[test]
    fn a_full_outbox_refuses_with_an_error() {
        let mut s = session();
        for _ in 0..3 {
            s.publish("t", "x".into()).unwrap();
        }
        assert_eq!(
            s.publish("t", "x".into()),
            Err(ClientError::OutboxFull { capacity: 3 })
        );
        assert_eq!(*s.pending().borrow(), 3);
    }

    #[test]
    fn resume_position_deduplicates_replays_and_gaps_are_forwarded() {
        let mut s = session();
        let mut rx = s.subscribe("t").unwrap();
        open(&mut s);
        server(
            &mut s,
            ServerFrame::Welcome {
                epoch: 5,
                client: "c".into(),
                online: 1,
                conn: 1,
            },
        );
        server(
            &mut s,
            ServerFrame::Subscribed {
                topic: "t".into(),
                epoch: 5,
                seq: 0,
            },
        );
        let msg = |seq| ServerFrame::Message {
            topic: "t".into(),
            seq,
            from: "p".into(),
            id: seq,
            data: format!("m{seq}"),
        };
        server(&mut s, msg(1));
        server(&mut s, msg(2));
        s.on_lost();
        let frames = open(&mut s);
        assert_eq!(
            frames,
            [r#"{"type":"subscribe","topic":"t","resume":{"epoch":5,"seq":2}}"#]
        );
        server(
            &mut s,
            ServerFrame::Welcome {
                epoch: 6,
                client: "c".into(),
                online: 1,
                conn: 1,
            },
        );
        server(
            &mut s,
            ServerFrame::Gap {
                topic: "t".into(),
                reason: GapReason::Epoch,
                next_seq: 1,
            },
        );
        server(
            &mut s,
            ServerFrame::Subscribed {
                topic: "t".into(),
                epoch: 6,
                seq: 1,
            },
        );
        server(&mut s, msg(1));
        server(&mut s, msg(1));
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| match Arc::unwrap_or_clone(e) {
                TopicEvent::Message(d) => d.data,
                TopicEvent::Gap { reason, .. } => format!("gap:{reason:?}"),
            })
            .collect();
        assert_eq!(got, ["m1", "m2", "gap:Epoch", "m1"]);
    }

    #[test]
    fn skipped_sequence_numbers_on_a_live_connection_raise_a_gap_notice() {
        let mut s = session();
        let mut rx = s.subscribe("t").unwrap();
        open(&mut s);
        let welcome = |epoch| ServerFrame::Welcome {
            epoch,
            client: "c".into(),
            online: 1,
            conn: 1,
        };
        let msg = |seq| ServerFrame::Message {
            topic: "t".into(),
            seq,
            from: "p".into(),
            id: seq,
            data: format!("m{seq}"),
        };
        server(&mut s, welcome(3));
        server(&mut s, msg(76));
        server(&mut s, msg(79));
        server(&mut s, msg(80));
        // A new epoch the server never announced with a gap notice.
        server(&mut s, welcome(4));
        server(&mut s, msg(2));
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| match Arc::unwrap_or_clone(e) {
                TopicEvent::Message(d) => d.data,
                TopicEvent::Gap {
                    reason,
                    epoch,
                    next_seq,
                    ..
                } => format!("gap:{reason:?}@{epoch}#{next_seq}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                "m76",
                "gap:Missed@3#79",
                "m79",
                "m80",
                "gap:Missed@4#2",
                "m2"
            ]
        );
    }

    #[test]
    fn close_ends_streams_and_refuses_sends() {
        let mut s = session();
        let mut rx = s.subscribe("t").unwrap();
        s.on_close();
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Closed)
        ));
        assert_eq!(s.publish("t", "x".into()), Err(ClientError::Closed));
        assert!(s.subscribe("t").is_err());
    }

    #[test]
    #[tracing_test::traced_test]
    fn garbage_from_the_server_is_reported_not_fatal() {
        let mut s = session();
        open(&mut s);
        server(
            &mut s,
            ServerFrame::Welcome {
                epoch: 1,
                client: "c".into(),
                online: 1,
                conn: 1,
            },
        );
        let mut events = s.server_events();
        assert!(
            s.on_frame(Message::text("not json")).is_ok(),
            "after a welcome, garbage is reported, not fatal"
        );
        assert!(matches!(
            events.try_recv().as_deref(),
            Ok(ServerEvent::Unintelligible { .. })
        ));
        assert!(logs_contain("server frame not understood"));
    }

    #[test]
    fn a_server_that_never_says_welcome_is_not_a_wschaos_server() {
        let mut s = session();
        open(&mut s);
        let err = s
            .on_frame(Message::text("hello from some other server"))
            .unwrap_err();
        assert!(
            err.starts_with("the server does not speak the wschaos protocol"),
            "{err}"
        );
        s.on_lost();
        open(&mut s);
        assert!(
            s.on_frame(Message::text("{}")).is_err(),
            "each new connection must welcome again"
        );
    }
}
