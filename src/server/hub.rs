//! The server's shared state: connections, topics with sequences and history, duplicate
//! detection. Pure bookkeeping: no I/O, no awaits. Connections hand it their frames and
//! it queues replies and broadcasts on their bounded channels.
//!
//! Every collection is ordered (`BTreeMap`/`BTreeSet`), so fan-out order, and with it a
//! simulated run, depends only on the order in which things happened.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::dedup::Dedup;
use super::{ConnId, Event, ServerConfig, graphql, phoenix};
use crate::protocol::{
    Change, ClientFrame, ErrorCode, GapReason, PRESENCE_CHUNK, Position, Protocol, ServerFrame,
    validate_topic,
};

/// Who a connection says it is, from the handshake URL's query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) client: Option<String>,
    pub(crate) session: Option<String>,
    /// The protocol it asked for in the query (`protocol=wschaos`: a built-in client,
    /// a publisher say, on a server of another protocol); else the server's.
    pub(crate) protocol: Option<Protocol>,
    /// It offered the graphql-transport-ws subprotocol at the handshake.
    pub(crate) offered_graphql: bool,
}

/// A connection's close, asked for by the protocol: its code and reason.
pub(crate) type CloseAsked = (u16, String);

pub(crate) type Observer = Box<dyn FnMut(&Event) + Send>;

pub(crate) struct Hub {
    config: ServerConfig,
    next_conn: ConnId,
    conns: BTreeMap<ConnId, Conn>,
    topics: BTreeMap<String, Topic>,
    dedup: Dedup,
    observer: Observer,
    /// Set at shutdown: every connection is being closed with 1012, so nobody is told
    /// about the others leaving (n connections would otherwise make n² frames, and delay
    /// the restart that every client is waiting for).
    closing: bool,
    /// Joins and leaves not sent yet (the wschaos protocol gathers them for
    /// `presence_every`): each connection gets those from its `presence_from` on.
    pending: Vec<Change>,
    /// The `presence` frames built for stretches of `pending`, by (from, to).
    presence_frames: BTreeMap<(usize, usize), Utf8Bytes>,
    /// Told when `pending` stops being empty, so that the server's loop sends it in time.
    presence_due: Arc<Notify>,
    /// Connections that speak another protocol than wschaos's: while there are none, a
    /// message goes to every subscriber as the one frame it was published as.
    foreign: usize,
}

struct Conn {
    client: String,
    dedup_key: String,
    /// `None` once the connection was dropped for a full queue.
    tx: Option<mpsc::Sender<Utf8Bytes>>,
    topics: BTreeSet<String>,
    /// The first change in the hub's `pending` this connection was not sent yet (those
    /// before it were sent, or made before it connected).
    presence_from: usize,
    /// The protocol it speaks.
    protocol: Protocol,
    /// graphql-transport-ws: acknowledged (`connection_init` answered), and its
    /// subscriptions, topic by operation id.
    acked: bool,
    operations: BTreeMap<String, String>,
    /// Phoenix: the `join_ref` of each channel it joined, by topic.
    joins: BTreeMap<String, serde_json::Value>,
}

#[derive(Default)]
struct Topic {
    seq: u64,
    history: VecDeque<(u64, Utf8Bytes)>,
    subscribers: BTreeSet<ConnId>,
}

impl Hub {
    pub(crate) fn new(config: ServerConfig, observer: Observer) -> Self {
        let dedup = Dedup::new(config.dedup_clients);
        #[cfg(feature = "defects")]
        let dedup = dedup.remembering_last(config.defects.dedup_last);
        Hub {
            config,
            next_conn: 1,
            conns: BTreeMap::new(),
            topics: BTreeMap::new(),
            dedup,
            observer,
            closing: false,
            pending: Vec::new(),
            presence_frames: BTreeMap::new(),
            presence_due: Arc::new(Notify::new()),
            foreign: 0,
        }
    }

    /// The server is shutting down: what is gathered goes out, then no more leaves.
    pub(crate) fn close_all(&mut self) {
        self.flush_presence();
        self.closing = true;
    }

    /// Notified when presence changes wait to be sent: [`Hub::flush_presence`] is due
    /// within `presence_every`.
    pub(crate) fn presence_due(&self) -> Arc<Notify> {
        self.presence_due.clone()
    }

    /// Sends the gathered joins and leaves: each connection gets, in `presence` frames of
    /// at most [`PRESENCE_CHUNK`] changes, those made while it was connected that it was not
    /// sent yet.
    pub(crate) fn flush_presence(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let all: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in all {
            self.catch_up(conn);
        }
        self.pending.clear();
        self.presence_frames.clear();
        for c in self.conns.values_mut() {
            c.presence_from = 0;
        }
    }

    /// Sends `conn` the gathered changes it was not sent yet, if any, cut at every multiple
    /// of [`PRESENCE_CHUNK`] of the gathering: connections that need the same stretch share
    /// its frames, and no frame (nor a connection's write buffer, which keeps the size of
    /// the largest frame it wrote) grows with the number of clients.
    fn catch_up(&mut self, conn: ConnId) {
        let to = self.pending.len();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let mut from = std::mem::replace(&mut c.presence_from, to);
        if c.protocol != Protocol::Wschaos {
            return; // presence is wschaos's
        }
        let online = self.conns.len() as u64;
        while from < to {
            let end = to.min((from / PRESENCE_CHUNK + 1) * PRESENCE_CHUNK);
            let frame = self
                .presence_frames
                .entry((from, end))
                .or_insert_with(|| {
                    let frame = ServerFrame::Presence {
                        changes: self.pending[from..end].to_vec(),
                        online,
                    };
                    Utf8Bytes::from(frame.to_json())
                })
                .clone();
            self.push(conn, frame);
            from = end;
        }
    }

    /// One more join or leave for everyone connected now: at once under the broadcast
    /// protocol or with `presence_every` 0, else gathered.
    fn announce(&mut self, change: Change) {
        if self.config.protocol == Protocol::Broadcast {
            let online = self.online();
            let frame = match change {
                Change::Joined(client) => ServerFrame::Joined { client, online },
                Change::Left(client) => ServerFrame::Left { client, online },
            };
            return self.broadcast_all(&frame);
        }
        if self.pending.is_empty() {
            self.presence_due.notify_one();
        }
        self.pending.push(change);
        if self.config.presence_every.is_zero() {
            self.flush_presence();
        }
    }

    pub(crate) fn online(&self) -> u64 {
        self.conns.len() as u64
    }

    pub(crate) fn is_full(&self) -> bool {
        self.conns.len() >= self.config.max_connections
    }

    pub(crate) fn observe(&mut self, event: Event) {
        tracing::debug!(?event, "server");
        (self.observer)(&event);
    }

    /// Adds a connection: welcome to it, joined to everyone (it included).
    pub(crate) fn register(&mut self, identity: Identity) -> (ConnId, mpsc::Receiver<Utf8Bytes>) {
        let conn = self.next_conn;
        self.next_conn += 1;
        let client = identity.client.unwrap_or_else(|| format!("anon-{conn}"));
        let dedup_key = format!("{client}\u{0}{}", identity.session.unwrap_or_default());
        let (tx, rx) = mpsc::channel(self.config.queue.max(2));
        let protocol = identity.protocol.unwrap_or(self.config.protocol);
        self.foreign += usize::from(protocol != Protocol::Wschaos);
        let entry = Conn {
            client: client.clone(),
            dedup_key,
            tx: Some(tx),
            topics: BTreeSet::new(),
            presence_from: self.pending.len(),
            protocol,
            acked: false,
            operations: BTreeMap::new(),
            joins: BTreeMap::new(),
        };
        self.conns.insert(conn, entry);
        let online = self.online();
        let epoch = self.config.epoch;
        // The article's broadcast server says no welcome: the join is the first frame.
        // graphql-transport-ws waits for the client's `connection_init`; Phoenix has none.
        if protocol == Protocol::Wschaos {
            self.send(
                conn,
                &ServerFrame::Welcome {
                    epoch,
                    client: client.clone(),
                    online,
                    conn,
                },
            );
        }
        self.announce(Change::Joined(client.clone()));
        self.observe(Event::Connected {
            conn,
            client,
            online,
        });
        (conn, rx)
    }

    /// Removes a connection and its subscriptions; left to everyone remaining.
    pub(crate) fn unregister(&mut self, conn: ConnId, reason: &str) {
        let Some(gone) = self.conns.remove(&conn) else {
            return;
        };
        self.foreign -= usize::from(gone.protocol != Protocol::Wschaos);
        for topic in &gone.topics {
            if let Some(t) = self.topics.get_mut(topic) {
                t.subscribers.remove(&conn);
            }
        }
        let online = self.online();
        if !self.closing {
            self.announce(Change::Left(gone.client.clone()));
        }
        self.observe(Event::Disconnected {
            conn,
            client: gone.client,
            reason: reason.into(),
            online,
        });
    }

    /// Notes that a client's close frame arrived on a connection.
    pub(crate) fn client_closed(&mut self, conn: ConnId, code: Option<u16>) {
        let client = self.client(conn);
        self.observe(Event::ClientClosed { conn, client, code });
    }

    /// Notes that a connection is being closed for a protocol violation.
    pub(crate) fn reject(&mut self, conn: ConnId, reason: &str) {
        let client = self.client(conn);
        self.observe(Event::Rejected {
            conn,
            client,
            reason: reason.into(),
        });
    }

    /// The protocol `conn` speaks.
    pub(crate) fn protocol_of(&self, conn: ConnId) -> Protocol {
        self.conns
            .get(&conn)
            .map_or(self.config.protocol, |c| c.protocol)
    }

    /// True once `conn` is ready for subscriptions (graphql-transport-ws: acknowledged).
    pub(crate) fn acked(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_none_or(|c| c.acked)
    }

    /// Handles one text frame from a connection; `Err` when its protocol says to close it.
    pub(crate) fn handle_text(&mut self, conn: ConnId, text: &str) -> Result<(), CloseAsked> {
        match self.protocol_of(conn) {
            Protocol::Broadcast => {
                self.relay(conn, text);
                Ok(())
            }
            Protocol::GraphqlTransportWs => self.graphql(conn, text),
            Protocol::Phoenix => {
                self.phoenix(conn, text);
                Ok(())
            }
            Protocol::Wschaos => {
                self.wschaos(conn, text);
                Ok(())
            }
        }
    }

    fn wschaos(&mut self, conn: ConnId, text: &str) {
        match serde_json::from_str::<ClientFrame>(text) {
            Ok(ClientFrame::Subscribe { topic, resume }) => self.subscribe(conn, topic, resume),
            Ok(ClientFrame::Unsubscribe { topic }) => self.unsubscribe(conn, topic),
            Ok(ClientFrame::Publish { topic, id, data }) => self.publish(conn, topic, id, data),
            Err(e) => self.error(
                conn,
                ErrorCode::BadFrame,
                format!("frame not understood: {e}"),
            ),
        }
    }

    /// Adds `topic` to `conn`'s subscriptions: a valid topic, within `max_subscriptions`.
    fn admit(&mut self, conn: ConnId, topic: &str) -> Result<(), (ErrorCode, String)> {
        validate_topic(topic).map_err(|reason| (ErrorCode::BadTopic, reason))?;
        let Some(c) = self.conns.get_mut(&conn) else {
            return Ok(()); // gone: nothing to subscribe, nobody to tell
        };
        if !c.topics.contains(topic) && c.topics.len() >= self.config.max_subscriptions {
            let limit = self.config.max_subscriptions;
            return Err((
                ErrorCode::TooManySubscriptions,
                format!("at most {limit} subscriptions per connection"),
            ));
        }
        c.topics.insert(topic.to_string());
        (self.topics.entry(topic.to_string()).or_default())
            .subscribers
            .insert(conn);
        Ok(())
    }

    /// Removes `topic` from `conn`'s subscriptions.
    fn release(&mut self, conn: ConnId, topic: &str) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.topics.remove(topic);
        }
        if let Some(t) = self.topics.get_mut(topic) {
            t.subscribers.remove(&conn);
        }
    }

    fn subscribe(&mut self, conn: ConnId, topic: String, resume: Option<Position>) {
        if let Err((code, reason)) = self.admit(conn, &topic) {
            return self.error(conn, code, reason);
        }
        let client = self.client(conn);
        let epoch = self.config.epoch;
        let t = self.topics.entry(topic.clone()).or_default();
        #[cfg(feature = "defects")]
        let late = self.config.defects.replays_late;
        #[cfg(not(feature = "defects"))]
        let late = false;
        let (gap, from) = match replay_start(t, epoch, resume) {
            (None, from) if late && resume.is_some() && from <= t.seq => {
                (Some(GapReason::History), from + 1)
            }
            start => start,
        };
        let seq = t.seq;
        let replay: Vec<Utf8Bytes> = t
            .history
            .iter()
            .filter(|(s, _)| *s >= from)
            .map(|(_, f)| f.clone())
            .collect();
        if let Some(reason) = gap {
            self.send(
                conn,
                &ServerFrame::Gap {
                    topic: topic.clone(),
                    reason,
                    next_seq: from,
                },
            );
        }
        self.send(
            conn,
            &ServerFrame::Subscribed {
                topic: topic.clone(),
                epoch,
                seq,
            },
        );
        for frame in replay {
            self.enqueue(conn, frame);
        }
        self.observe(Event::Subscribed {
            conn,
            client,
            topic,
            resume,
            gap,
        });
    }

    fn unsubscribe(&mut self, conn: ConnId, topic: String) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        self.release(conn, &topic);
        let client = self.client(conn);
        self.send(
            conn,
            &ServerFrame::Unsubscribed {
                topic: topic.clone(),
            },
        );
        self.observe(Event::Unsubscribed {
            conn,
            client,
            topic,
        });
    }

    fn publish(&mut self, conn: ConnId, topic: String, id: u64, data: String) {
        if let Err(reason) = validate_topic(&topic) {
            return self.error(conn, ErrorCode::BadTopic, reason);
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let client = c.client.clone();
        if !self.dedup.first_time(&c.dedup_key, id) {
            self.send(
                conn,
                &ServerFrame::Ack {
                    id,
                    duplicate: true,
                },
            );
            return self.observe(Event::Published {
                conn,
                client,
                topic,
                id,
                seq: None,
            });
        }
        let seq = self.fan_out(&topic, &client, id, data, None);
        self.send(
            conn,
            &ServerFrame::Ack {
                id,
                duplicate: false,
            },
        );
        self.observe(Event::Published {
            conn,
            client,
            topic,
            id,
            seq: Some(seq),
        });
    }

    /// A message on `topic` from `from`: numbered, kept for resume, sent to every
    /// subscriber in its own protocol (Phoenix: as the pushed `event` and payload, when
    /// a Phoenix client pushed it). Returns its sequence number.
    fn fan_out(
        &mut self,
        topic: &str,
        from: &str,
        id: u64,
        data: String,
        pushed: Option<(String, serde_json::Value)>,
    ) -> u64 {
        // Subscribers of other protocols get the data in their own frames.
        let foreign_data = (self.foreign > 0).then(|| data.clone());
        let t = self.topics.entry(topic.to_string()).or_default();
        t.seq += 1;
        let seq = t.seq;
        let message = ServerFrame::Message {
            topic: topic.to_string(),
            seq,
            from: from.to_string(),
            id,
            data,
        };
        let frame = Utf8Bytes::from(message.to_json());
        t.history.push_back((seq, frame.clone()));
        while t.history.len() > self.config.history {
            t.history.pop_front();
        }
        let subscribers: Vec<ConnId> = t.subscribers.iter().copied().collect();
        let Some(data) = foreign_data else {
            for sub in subscribers {
                self.enqueue(sub, frame.clone());
            }
            return seq;
        };
        let mut phoenix_frame: Option<Utf8Bytes> = None;
        for sub in subscribers {
            let Some(c) = self.conns.get(&sub) else {
                continue;
            };
            match c.protocol {
                Protocol::Wschaos | Protocol::Broadcast => self.enqueue(sub, frame.clone()),
                Protocol::Phoenix => {
                    let f = phoenix_frame.get_or_insert_with(|| {
                        let (event, payload) = match &pushed {
                            Some((event, payload)) => (event.as_str(), payload.clone()),
                            None => ("message", serde_json::json!({"data": data, "id": id})),
                        };
                        let payload = phoenix::payload(payload, seq, from);
                        Utf8Bytes::from(phoenix::broadcast(topic, event, &payload))
                    });
                    let f = f.clone();
                    self.enqueue(sub, f);
                }
                Protocol::GraphqlTransportWs => {
                    let ids: Vec<String> = (c.operations.iter())
                        .filter(|(_, t)| *t == topic)
                        .map(|(op, _)| op.clone())
                        .collect();
                    for op in ids {
                        let next = graphql::next_message(&op, topic, seq, from, id, &data);
                        self.enqueue(sub, Utf8Bytes::from(next));
                    }
                }
            }
        }
        seq
    }

    /// A graphql-transport-ws message ([`graphql`]).
    fn graphql(&mut self, conn: ConnId, text: &str) -> Result<(), CloseAsked> {
        let request = graphql::parse(text)?;
        let Some(c) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        match request {
            graphql::Request::Init if c.acked => {
                return Err((
                    graphql::TOO_MANY_INITS,
                    "Too many initialisation requests".into(),
                ));
            }
            graphql::Request::Init => {
                c.acked = true;
                self.send_text(conn, graphql::ack());
            }
            graphql::Request::Ping => self.send_text(conn, graphql::pong()),
            graphql::Request::Pong => {}
            _ if !c.acked => return Err((graphql::UNAUTHORIZED, "Unauthorized".into())),
            graphql::Request::Subscribe { id, .. } | graphql::Request::Publish { id, .. }
                if c.operations.contains_key(&id) =>
            {
                return Err((
                    graphql::SUBSCRIBER_EXISTS,
                    format!("Subscriber for {id} already exists"),
                ));
            }
            graphql::Request::Subscribe { id, topic } => match self.admit(conn, &topic) {
                Err((_, reason)) => {
                    self.reject(conn, &reason);
                    self.send_text(conn, graphql::error(&id, &reason));
                }
                Ok(()) => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.operations.insert(id, topic.clone());
                    }
                    let client = self.client(conn);
                    self.observe(Event::Subscribed {
                        conn,
                        client,
                        topic,
                        resume: None,
                        gap: None,
                    });
                }
            },
            graphql::Request::Publish {
                id,
                topic,
                data,
                message_id,
            } => {
                if let Err(reason) = validate_topic(&topic) {
                    self.reject(conn, &reason);
                    self.send_text(conn, graphql::error(&id, &reason));
                    return Ok(());
                }
                let client = self.client(conn);
                let seq = self.fan_out(&topic, &client, message_id, data, None);
                self.send_text(conn, graphql::published(&id, seq));
                self.send_text(conn, graphql::complete(&id));
                self.observe(Event::Published {
                    conn,
                    client,
                    topic,
                    id: message_id,
                    seq: Some(seq),
                });
            }
            graphql::Request::Complete { id } => {
                let Some(topic) = c.operations.remove(&id) else {
                    return Ok(()); // already over: nothing to do, as the protocol says
                };
                if !c.operations.values().any(|t| *t == topic) {
                    self.release(conn, &topic);
                }
                let client = self.client(conn);
                self.observe(Event::Unsubscribed {
                    conn,
                    client,
                    topic,
                });
            }
        }
        Ok(())
    }

    /// A Phoenix Channels message ([`phoenix`]).
    fn phoenix(&mut self, conn: ConnId, text: &str) {
        use serde_json::{Value, json};
        let request = match phoenix::parse(text) {
            Ok(request) => request,
            Err(why) => return self.reject(conn, &format!("not a Phoenix message: {why}")),
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match request {
            phoenix::Request::Heartbeat { r#ref } => {
                let reply = phoenix::reply(&Value::Null, &r#ref, "phoenix", true, json!({}));
                self.send_text(conn, reply);
            }
            phoenix::Request::Join {
                join_ref,
                r#ref,
                topic,
            } => {
                // Joined already: Phoenix closes the old channel for the new join.
                if let Some(old) = c.joins.remove(&topic) {
                    self.release(conn, &topic);
                    self.send_text(conn, phoenix::close(&old, &topic));
                    let client = self.client(conn);
                    self.observe(Event::Unsubscribed {
                        conn,
                        client,
                        topic: topic.clone(),
                    });
                }
                match self.admit(conn, &topic) {
                    Err((_, reason)) => {
                        self.reject(conn, &reason);
                        let response = json!({ "reason": reason });
                        let reply = phoenix::reply(&join_ref, &r#ref, &topic, false, response);
                        self.send_text(conn, reply);
                    }
                    Ok(()) => {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.joins.insert(topic.clone(), join_ref.clone());
                        }
                        let reply = phoenix::reply(&join_ref, &r#ref, &topic, true, json!({}));
                        self.send_text(conn, reply);
                        let client = self.client(conn);
                        self.observe(Event::Subscribed {
                            conn,
                            client,
                            topic,
                            resume: None,
                            gap: None,
                        });
                    }
                }
            }
            phoenix::Request::Leave {
                join_ref,
                r#ref,
                topic,
            } => {
                let joined = c.joins.remove(&topic).is_some();
                let reply = phoenix::reply(&join_ref, &r#ref, &topic, true, json!({}));
                self.send_text(conn, reply);
                if joined {
                    self.release(conn, &topic);
                    self.send_text(conn, phoenix::close(&join_ref, &topic));
                    let client = self.client(conn);
                    self.observe(Event::Unsubscribed {
                        conn,
                        client,
                        topic,
                    });
                }
            }
            phoenix::Request::Push {
                join_ref,
                r#ref,
                topic,
                event,
                payload,
            } => {
                if !c.joins.contains_key(&topic) {
                    let response = json!({"reason": "unmatched topic"});
                    let reply = phoenix::reply(&join_ref, &r#ref, &topic, false, response);
                    return self.send_text(conn, reply);
                }
                let client = self.client(conn);
                let id = phoenix::number(&r#ref).unwrap_or(0);
                let data = payload.to_string();
                let seq = self.fan_out(&topic, &client, id, data, Some((event, payload)));
                let reply = phoenix::reply(&join_ref, &r#ref, &topic, true, json!({ "seq": seq }));
                self.send_text(conn, reply);
                self.observe(Event::Published {
                    conn,
                    client,
                    topic,
                    id,
                    seq: Some(seq),
                });
            }
        }
    }

    fn send_text(&mut self, conn: ConnId, text: String) {
        self.enqueue(conn, Utf8Bytes::from(text));
    }

    fn error(&mut self, conn: ConnId, code: ErrorCode, message: String) {
        self.reject(conn, &message);
        self.send(conn, &ServerFrame::Error { code, message });
    }

    fn client(&self, conn: ConnId) -> String {
        self.conns
            .get(&conn)
            .map(|c| c.client.clone())
            .unwrap_or_default()
    }

    /// The broadcast protocol: `text`, unchanged, to every connection (its sender's too).
    fn relay(&mut self, conn: ConnId, text: &str) {
        let client = self.client(conn);
        let frame = Utf8Bytes::from(text);
        let all: Vec<ConnId> = self.conns.keys().copied().collect();
        self.observe(Event::Relayed {
            conn,
            client,
            len: text.len(),
            digest: crate::protocol::digest(text.as_bytes()),
            to: all.len() as u64,
        });
        for to in all {
            self.enqueue(to, frame.clone());
        }
    }

    fn broadcast_all(&mut self, frame: &ServerFrame) {
        let frame = Utf8Bytes::from(frame.to_json());
        let all: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in all {
            self.enqueue(conn, frame.clone());
        }
    }

    fn send(&mut self, conn: ConnId, frame: &ServerFrame) {
        self.enqueue(conn, Utf8Bytes::from(frame.to_json()));
    }

    /// Queues a frame after the presence changes gathered for that connection, which go
    /// out first: a change is never overtaken by a frame sent after it.
    fn enqueue(&mut self, conn: ConnId, frame: Utf8Bytes) {
        self.catch_up(conn);
        self.push(conn, frame);
    }

    /// Queues a frame; a full queue drops the connection's sender, which its task sees as
    /// the end of its queue and answers with close 1008.
    fn push(&mut self, conn: ConnId, frame: Utf8Bytes) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(tx) = &c.tx else { return };
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(frame) {
            c.tx = None;
            let client = c.client.clone();
            let reason = format!("slow consumer: {} frames queued", self.config.queue);
            self.observe(Event::Rejected {
                conn,
                client,
                reason,
            });
        }
    }
}

/// Where a (re)subscription's replay starts, and whether the client missed something.
fn replay_start(t: &Topic, epoch: u64, resume: Option<Position>) -> (Option<GapReason>, u64) {
    let live = t.seq + 1;
    let oldest = t.history.front().map_or(live, |(s, _)| *s);
    let (gap, from) = match resume {
        None => (None, live),
        Some(p) if p.epoch != epoch => (Some(GapReason::Epoch), 1),
        Some(p) if p.seq > t.seq => (Some(GapReason::Unknown), live),
        Some(p) => (None, p.seq + 1),
    };
    if from < oldest {
        (gap.or(Some(GapReason::History)), oldest)
    } else {
        (gap, from)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn hub(config: ServerConfig) -> (Hub, Arc<Mutex<Vec<Event>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        (
            Hub::new(
                config,
                Box::new(move |e| sink.lock().unwrap().push(e.clone())),
            ),
            seen,
        )
    }

    fn join(hub: &mut Hub, client: &str) -> (ConnId, mpsc::Receiver<Utf8Bytes>) {
        hub.register(Identity {
            client: Some(client.into()),
            session: Some("s".into()),
            ..Identity::default()
        })
    }

    fn texts(rx: &mut mpsc::Receiver<Utf8Bytes>) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|t| t.to_string())
            .collect()
    }

    /// A publisher of the wschaos protocol (a built-in client) on a server of `protocol`.
    fn publisher(hub: &mut Hub) -> (ConnId, mpsc::Receiver<Utf8Bytes>) {
        hub.register(Identity {
            client: Some("pub-0".into()),
            protocol: Some(Protocol::Wschaos),
            ..Identity::default()
        })
    }

    #[test]
    fn graphql_clients_subscribe_by_id_and_get_each_message_per_subscription() {
        let config = ServerConfig {
            protocol: Protocol::GraphqlTransportWs,
            ..ServerConfig::default()
        };
        let (mut hub, seen) = hub(config);
        let (a, mut rx) = join(&mut hub, "a");
        let (p, mut prx) = publisher(&mut hub);
        assert!(
            texts(&mut rx).is_empty(),
            "no welcome: the client speaks first"
        );
        assert!(
            texts(&mut prx)[0].contains("welcome"),
            "the publisher is welcomed"
        );
        let sub = |id: &str, topic: &str| {
            format!(
                r#"{{"id":"{id}","type":"subscribe","payload":{{"query":"subscription {{ message }}","variables":{{"topic":"{topic}"}}}}}}"#
            )
        };
        // Before the ack: 4401.
        assert_eq!(hub.handle_text(a, &sub("1", "t")).unwrap_err().0, 4401);
        hub.handle_text(a, r#"{"type":"connection_init"}"#).unwrap();
        assert_eq!(texts(&mut rx), [r#"{"type":"connection_ack"}"#]);
        assert_eq!(
            hub.handle_text(a, r#"{"type":"connection_init"}"#)
                .unwrap_err()
                .0,
            4429
        );
        hub.handle_text(a, &sub("1", "t")).unwrap();
        // The same topic under a second id: both get the message (a client that
        // subscribes twice gets it twice).
        hub.handle_text(a, &sub("2", "t")).unwrap();
        assert_eq!(hub.handle_text(a, &sub("2", "u")).unwrap_err().0, 4409);
        publish(&mut hub, p, 1);
        let got = texts(&mut rx);
        assert_eq!(got.len(), 2, "{got:?}");
        for (frame, id) in got.iter().zip(["1", "2"]) {
            let v: serde_json::Value = serde_json::from_str(frame).unwrap();
            assert_eq!(
                (v["id"].as_str(), v["type"].as_str()),
                (Some(id), Some("next"))
            );
            assert_eq!(v["payload"]["data"]["message"]["seq"], 1);
            assert_eq!(v["payload"]["data"]["message"]["data"], "m1");
        }
        hub.handle_text(a, r#"{"id":"1","type":"complete"}"#)
            .unwrap();
        publish(&mut hub, p, 2);
        assert_eq!(texts(&mut rx).len(), 1, "subscription 2 is still on");
        // A mutation publishes; its result and complete come back.
        hub.handle_text(a, r#"{"id":"m","type":"subscribe","payload":{"query":"mutation { publish }","variables":{"topic":"t","data":"hi"}}}"#).unwrap();
        let got = texts(&mut rx);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].contains(r#""data":"hi""#), "{got:?}");
        assert!(got[1].contains(r#""publish":{"seq":3}"#), "{got:?}");
        assert_eq!(got[2], r#"{"id":"m","type":"complete"}"#);
        assert_eq!(hub.handle_text(a, "{}").unwrap_err().0, 4400);
        let subscribed = (seen.lock().unwrap().iter())
            .filter(|e| matches!(e, Event::Subscribed { conn, .. } if *conn == a))
            .count();
        assert_eq!(subscribed, 2);
    }

    #[test]
    fn phoenix_clients_join_channels_and_get_broadcasts_of_pushes() {
        let config = ServerConfig {
            protocol: Protocol::Phoenix,
            ..ServerConfig::default()
        };
        let (mut hub, _) = hub(config);
        let (a, mut rx) = join(&mut hub, "a");
        let (b, mut brx) = join(&mut hub, "b");
        let (p, _) = publisher(&mut hub);
        assert!(texts(&mut rx).is_empty(), "no welcome, no presence");
        hub.handle_text(a, r#"["1","1","t","phx_join",{}]"#)
            .unwrap();
        assert_eq!(
            texts(&mut rx),
            [r#"["1","1","t","phx_reply",{"status":"ok","response":{}}]"#]
        );
        hub.handle_text(b, r#"["1","1","t","phx_join",{}]"#)
            .unwrap();
        texts(&mut brx);
        // A push from b reaches both, with its sequence number; b's is answered.
        hub.handle_text(b, r#"["1","2","t","new_msg",{"body":"hi"}]"#)
            .unwrap();
        assert_eq!(
            texts(&mut rx),
            [r#"[null,null,"t","new_msg",{"body":"hi","seq":1,"from":"b"}]"#]
        );
        let got = texts(&mut brx);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[1].contains(r#""response":{"seq":1}"#), "{got:?}");
        // The built-in publisher's message comes as a `message` event.
        publish(&mut hub, p, 9);
        assert_eq!(
            texts(&mut rx),
            [r#"[null,null,"t","message",{"data":"m9","id":9,"seq":2,"from":"pub-0"}]"#]
        );
        // A second join of the same topic closes the first channel.
        hub.handle_text(a, r#"["3","3","t","phx_join",{}]"#)
            .unwrap();
        let got = texts(&mut rx);
        assert_eq!(got[0], r#"["1","1","t","phx_close",{}]"#);
        assert!(got[1].contains(r#""status":"ok""#), "{got:?}");
        // A push on a topic not joined is refused; heartbeats are answered.
        hub.handle_text(a, r#"["3","4","u","new_msg",{}]"#).unwrap();
        assert!(texts(&mut rx)[0].contains("unmatched topic"));
        hub.handle_text(a, r#"[null,"5","phoenix","heartbeat",{}]"#)
            .unwrap();
        assert_eq!(
            texts(&mut rx),
            [r#"[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]"#]
        );
        hub.handle_text(a, r#"["3","6","t","phx_leave",{}]"#)
            .unwrap();
        let got = texts(&mut rx);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1], r#"["3","3","t","phx_close",{}]"#);
        publish(&mut hub, p, 10);
        assert!(texts(&mut rx).is_empty(), "left");
    }

    fn frames(rx: &mut mpsc::Receiver<Utf8Bytes>) -> Vec<ServerFrame> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|t| serde_json::from_str(&t).unwrap())
            .collect()
    }

    fn types(rx: &mut mpsc::Receiver<Utf8Bytes>) -> Vec<String> {
        frames(rx)
            .iter()
            .map(|f| {
                serde_json::to_value(f).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    fn publish(hub: &mut Hub, conn: ConnId, id: u64) {
        hub.handle_text(
            conn,
            &ClientFrame::Publish {
                topic: "t".into(),
                id,
                data: format!("m{id}"),
            }
            .to_json(),
        )
        .unwrap();
    }

    fn subscribe(hub: &mut Hub, conn: ConnId, resume: Option<Position>) {
        hub.handle_text(
            conn,
            &ClientFrame::Subscribe {
                topic: "t".into(),
                resume,
            }
            .to_json(),
        )
        .unwrap();
    }

    fn presence(changes: &[(&str, bool)], online: u64) -> ServerFrame {
        let changes = changes
            .iter()
            .map(|&(c, joined)| {
                if joined {
                    Change::Joined(c.into())
                } else {
                    Change::Left(c.into())
                }
            })
            .collect();
        ServerFrame::Presence { changes, online }
    }

    #[test]
    fn nobody_is_told_of_leaves_while_the_server_closes() {
        let (mut hub, seen) = hub(ServerConfig::default());
        let (a, mut ra) = join(&mut hub, "a");
        let (b, _rb) = join(&mut hub, "b");
        hub.close_all();
        hub.unregister(b, "server shutdown");
        hub.flush_presence();
        let got = frames(&mut ra);
        assert_eq!(
            got[1..],
            [presence(&[("a", true), ("b", true)], 2)],
            "the gathered joins went out at the close; no left"
        );
        hub.unregister(a, "server shutdown");
        let gone = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Event::Disconnected { .. }))
            .count();
        assert_eq!(gone, 2, "both disconnects are still observed");
    }

    #[test]
    fn presence_is_gathered_into_one_frame_per_connection() {
        let (mut hub, _) = hub(ServerConfig::default());
        let (_a, mut ra) = join(&mut hub, "a");
        let (b, mut rb) = join(&mut hub, "b");
        let (_c, mut rc) = join(&mut hub, "c");
        hub.unregister(b, "bye");
        assert_eq!(types(&mut ra), ["welcome"], "nothing before the flush");
        hub.flush_presence();
        let all = presence(&[("a", true), ("b", true), ("c", true), ("b", false)], 2);
        assert_eq!(frames(&mut ra), [all], "every change, in order, once");
        assert_eq!(
            frames(&mut rc)[1..],
            [presence(&[("c", true), ("b", false)], 2)],
            "only what happened while c was connected"
        );
        assert_eq!(types(&mut rb), ["welcome"], "b left before the flush");
        hub.flush_presence();
        assert!(frames(&mut ra).is_empty(), "nothing is sent twice");
    }

    #[test]
    fn presence_frames_are_cut_at_multiples_of_the_chunk() {
        let (mut hub, _) = hub(ServerConfig::default());
        let (_first, mut r0) = join(&mut hub, "c0");
        let mut late = None;
        for i in 1..PRESENCE_CHUNK * 2 + 44 {
            let joined = join(&mut hub, &format!("c{i}"));
            if i == PRESENCE_CHUNK + 72 {
                late = Some(joined);
            }
        }
        hub.flush_presence();
        let sizes = |frames: Vec<ServerFrame>| -> Vec<usize> {
            frames
                .iter()
                .filter_map(|f| match f {
                    ServerFrame::Presence { changes, .. } => Some(changes.len()),
                    _ => None,
                })
                .collect()
        };
        let c = PRESENCE_CHUNK;
        assert_eq!(
            sizes(frames(&mut r0)),
            [c, c, 44],
            "whole chunks, then the rest"
        );
        let (_, mut rl) = late.unwrap();
        assert_eq!(
            sizes(frames(&mut rl)),
            [c - 72, 44],
            "a late joiner's first frame ends where everyone's does"
        );
    }

    #[test]
    fn presence_goes_out_before_any_later_frame() {
        let (mut hub, _) = hub(ServerConfig::default());
        let (a, mut ra) = join(&mut hub, "a");
        subscribe(&mut hub, a, None);
        let (p, _rp) = join(&mut hub, "p");
        publish(&mut hub, p, 1);
        let got = frames(&mut ra);
        assert_eq!(got[1], presence(&[("a", true)], 1), "before `subscribed`");
        assert!(matches!(got[2], ServerFrame::Subscribed { .. }));
        assert_eq!(got[3], presence(&[("p", true)], 2), "before the message");
        assert!(matches!(got[4], ServerFrame::Message { .. }));
        let (_q, _rq) = join(&mut hub, "q");
        hub.flush_presence();
        assert_eq!(
            frames(&mut ra),
            [presence(&[("q", true)], 3)],
            "the rest at the flush, without repeating what went out"
        );
    }

    #[test]
    fn presence_every_zero_and_the_broadcast_protocol_send_each_change_at_once() {
        let (mut hub, _) = hub(ServerConfig {
            presence_every: std::time::Duration::ZERO,
            ..ServerConfig::default()
        });
        let (_a, mut ra) = join(&mut hub, "a");
        let (b, _rb) = join(&mut hub, "b");
        hub.unregister(b, "bye");
        assert_eq!(
            frames(&mut ra)[1..],
            [
                presence(&[("a", true)], 1),
                presence(&[("b", true)], 2),
                presence(&[("b", false)], 1)
            ]
        );
        let (mut article, _) = self::hub(ServerConfig {
            protocol: Protocol::Broadcast,
            ..ServerConfig::default()
        });
        let (_a, mut ra) = join(&mut article, "a");
        let (b, _rb) = join(&mut article, "b");
        article.unregister(b, "bye");
        assert_eq!(types(&mut ra), ["joined", "joined", "left"]);
    }

    #[test]
    fn duplicates_by_id_are_acked_but_not_delivered() {
        let (mut hub, seen) = hub(ServerConfig::default());
        let (a, mut ra) = join(&mut hub, "a");
        subscribe(&mut hub, a, None);
        publish(&mut hub, a, 1);
        publish(&mut hub, a, 1);
        let got = frames(&mut ra);
        let messages = got
            .iter()
            .filter(|f| matches!(f, ServerFrame::Message { .. }))
            .count();
        assert_eq!(messages, 1);
        assert!(got.contains(&ServerFrame::Ack {
            id: 1,
            duplicate: true
        }));
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, Event::Published { seq: None, .. }))
        );
    }

    #[test]
    fn resume_replays_what_was_missed() {
        let (mut hub, _) = hub(ServerConfig {
            epoch: 3,
            ..ServerConfig::default()
        });
        let (a, _ra) = join(&mut hub, "a");
        for id in 1..=4 {
            publish(&mut hub, a, id);
        }
        let (b, mut rb) = join(&mut hub, "b");
        subscribe(&mut hub, b, Some(Position { epoch: 3, seq: 2 }));
        let seqs: Vec<u64> = frames(&mut rb)
            .into_iter()
            .filter_map(|f| {
                if let ServerFrame::Message { seq, .. } = f {
                    Some(seq)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(seqs, [3, 4]);
    }

    #[test]
    fn resume_beyond_history_or_epoch_gives_a_gap_first() {
        let (mut hub, _) = hub(ServerConfig {
            epoch: 3,
            history: 2,
            ..ServerConfig::default()
        });
        let (a, _ra) = join(&mut hub, "a");
        for id in 1..=5 {
            publish(&mut hub, a, id);
        }
        for (resume, reason, next) in [
            (Position { epoch: 3, seq: 1 }, GapReason::History, 4),
            (Position { epoch: 2, seq: 9 }, GapReason::Epoch, 4),
            (Position { epoch: 3, seq: 9 }, GapReason::Unknown, 6),
        ] {
            let (b, mut rb) = join(&mut hub, "b");
            subscribe(&mut hub, b, Some(resume));
            let got = frames(&mut rb);
            let gap = got
                .iter()
                .find(|f| matches!(f, ServerFrame::Gap { .. }))
                .unwrap();
            assert_eq!(
                gap,
                &ServerFrame::Gap {
                    topic: "t".into(),
                    reason,
                    next_seq: next
                },
                "{resume:?}"
            );
        }
    }

    #[test]
    fn a_full_queue_drops_that_connection_only() {
        let (mut hub, seen) = hub(ServerConfig {
            queue: 4,
            ..ServerConfig::default()
        });
        let (a, mut ra) = join(&mut hub, "a");
        let (slow, mut rslow) = join(&mut hub, "slow");
        subscribe(&mut hub, a, None);
        subscribe(&mut hub, slow, None);
        let _ = frames(&mut ra);
        for id in 1..=10 {
            publish(&mut hub, a, id);
            let _ = frames(&mut ra);
        }
        assert!(
            rslow.try_recv().is_ok(),
            "what was queued is still delivered"
        );
        while rslow.try_recv().is_ok() {}
        assert!(matches!(
            rslow.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        let rejected = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Event::Rejected { .. }))
            .count();
        assert_eq!(rejected, 1);
    }

    #[test]
    fn bad_frames_and_limits_answer_with_error_frames() {
        let (mut hub, _) = hub(ServerConfig {
            max_subscriptions: 1,
            ..ServerConfig::default()
        });
        let (a, mut ra) = join(&mut hub, "a");
        let _ = frames(&mut ra);
        hub.handle_text(a, "{nope").unwrap();
        hub.handle_text(a, r#"{"type":"subscribe","topic":""}"#)
            .unwrap();
        hub.handle_text(a, r#"{"type":"subscribe","topic":"x"}"#)
            .unwrap();
        hub.handle_text(a, r#"{"type":"subscribe","topic":"y"}"#)
            .unwrap();
        let codes: Vec<ErrorCode> = frames(&mut ra)
            .into_iter()
            .filter_map(|f| {
                if let ServerFrame::Error { code, .. } = f {
                    Some(code)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            codes,
            [
                ErrorCode::BadFrame,
                ErrorCode::BadTopic,
                ErrorCode::TooManySubscriptions
            ]
        );
    }
}
