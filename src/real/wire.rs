//! Reading a WebSocket byte stream as it passes through the proxy, without changing it:
//! the HTTP head first (a handshake request or response), then frames. The proxy learns
//! from it when a connection opened (status 101), what a close frame said, and where one
//! frame ends and the next begins, so that a close frame it injects (a `kick`) never lands
//! inside another frame.
//!
//! It never buffers more than one frame header or a close frame's payload (at most 125
//! bytes, RFC 6455 5.5): a stream of any length costs the same few bytes. A head longer
//! than [`MAX_HEAD`], or a response that is not a 101, makes the rest of the stream opaque:
//! it is relayed, but no boundary is known in it.

/// Longest HTTP head read before the stream is taken as something other than a handshake.
pub const MAX_HEAD: usize = 16 * 1024;

/// Something seen in the stream, with the offset in the chunk just after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The HTTP head ended: a response's status (`None` for a request, or a head that is
    /// not HTTP).
    Head {
        /// The response status, e.g. 101.
        status: Option<u16>,
        /// Offset in the chunk just past the head.
        end: usize,
    },
    /// A frame ended here.
    Frame {
        /// Its opcode (8: close).
        opcode: u8,
        /// Offset in the chunk just past it.
        end: usize,
    },
    /// A whole text message (its frames joined), when the stream keeps texts
    /// ([`Stream::keeping_texts`]); `None` when it was longer than the limit or not UTF-8,
    /// and so not kept.
    Text(Option<String>),
    /// A close frame: its code and reason, when it carried them.
    Close {
        /// The close code.
        code: Option<u16>,
        /// The reason, lossily decoded.
        reason: String,
    },
}

/// One direction of a connection, as far as it has been read.
#[derive(Debug, Clone)]
pub struct Stream {
    state: State,
    texts: Option<Texts>,
}

/// The text message being read, for a stream that keeps them.
#[derive(Debug, Clone)]
struct Texts {
    /// The longest message kept, in bytes.
    limit: usize,
    /// The message so far (unmasked), while one is being read.
    message: Vec<u8>,
    /// Inside a text message (its first frame read, its last not yet).
    open: bool,
    /// The message outgrew `limit`: the rest of it is skipped.
    too_long: bool,
}

#[derive(Debug, Clone)]
enum State {
    /// Reading the HTTP head; the bytes so far.
    Head(Vec<u8>),
    /// Between or inside frames.
    Frames {
        /// The header bytes of the frame being read, until it is complete.
        header: Vec<u8>,
        /// Payload bytes left of the current frame (valid once its header is complete).
        left: u64,
        opcode: u8,
        /// The frame is the last of its message.
        fin: bool,
        mask: Option<[u8; 4]>,
        /// A close frame's payload so far (unmasked).
        close: Vec<u8>,
        /// Payload bytes of the current frame read so far.
        read: u64,
    },
    /// Not a WebSocket stream (or no longer): bytes pass, nothing is known of them.
    Opaque,
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

impl Stream {
    /// A stream at its start (its HTTP head comes first).
    pub fn new() -> Stream {
        Stream {
            state: State::Head(Vec::new()),
            texts: None,
        }
    }

    /// A stream that also yields each whole text message up to `limit` bytes
    /// ([`Seen::Text`]), for the wire's decoders; it keeps at most one message of `limit`.
    pub fn keeping_texts(limit: usize) -> Stream {
        Stream {
            texts: Some(Texts {
                limit,
                message: Vec::new(),
                open: false,
                too_long: false,
            }),
            ..Stream::new()
        }
    }

    /// True between frames (after the head): an injected frame here lands whole.
    pub fn at_boundary(&self) -> bool {
        matches!(&self.state, State::Frames { header, .. } if header.is_empty())
    }

    /// Reads `chunk`, returning what ended in it, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Seen> {
        let mut seen = Vec::new();
        let mut at = 0;
        while at < chunk.len() {
            match &mut self.state {
                State::Opaque => break,
                State::Head(head) => {
                    let before = head.len();
                    let take = (chunk.len() - at).min(MAX_HEAD + 4 - before);
                    head.extend_from_slice(&chunk[at..at + take]);
                    // Search from a little before the new bytes: the blank line may straddle.
                    let from = before.saturating_sub(3);
                    match find(&head[from..], b"\r\n\r\n") {
                        Some(i) => {
                            let end_in_head = from + i + 4;
                            let status = status_of(&head[..end_in_head]);
                            let end = at + (end_in_head - before);
                            seen.push(Seen::Head { status, end });
                            let is_request = head.starts_with(b"GET ");
                            self.state = if status == Some(101) || is_request {
                                State::Frames {
                                    header: Vec::new(),
                                    left: 0,
                                    opcode: 0,
                                    fin: true,
                                    mask: None,
                                    close: Vec::new(),
                                    read: 0,
                                }
                            } else {
                                State::Opaque
                            };
                            at = end;
                        }
                        None if head.len() > MAX_HEAD => self.state = State::Opaque,
                        None => at += take,
                    }
                }
                State::Frames {
                    header,
                    left,
                    opcode,
                    fin,
                    mask,
                    close,
                    read,
                } => {
                    if header.len() < 2 || header.len() < header_len(header) {
                        let want = if header.len() < 2 {
                            2
                        } else {
                            header_len(header)
                        };
                        let take = (want - header.len()).min(chunk.len() - at);
                        header.extend_from_slice(&chunk[at..at + take]);
                        at += take;
                        if header.len() >= 2 && header.len() == header_len(header) {
                            let (op, len, m) = parse_header(header);
                            *opcode = op;
                            *fin = header[0] & 0x80 != 0;
                            *left = len;
                            *mask = m;
                            *read = 0;
                            close.clear();
                            if let Some(t) = &mut self.texts {
                                t.begin(op);
                            }
                            if len == 0 {
                                finish_text(&mut self.texts, &mut seen, *opcode, *fin);
                                finish(&mut seen, *opcode, close, at);
                                header.clear();
                            }
                        }
                        continue;
                    }
                    let take = (chunk.len() - at).min(usize::try_from(*left).unwrap_or(usize::MAX));
                    if *opcode == 8 {
                        for (i, b) in chunk[at..at + take].iter().enumerate() {
                            if close.len() < 125 {
                                let k = (*read as usize + i) % 4;
                                close.push(mask.map_or(*b, |m| b ^ m[k]));
                            }
                        }
                    }
                    if let Some(t) = self.texts.as_mut().filter(|t| t.open && *opcode < 8) {
                        t.take(&chunk[at..at + take], *mask, *read);
                    }
                    at += take;
                    *left -= take as u64;
                    *read += take as u64;
                    if *left == 0 {
                        finish_text(&mut self.texts, &mut seen, *opcode, *fin);
                        finish(&mut seen, *opcode, close, at);
                        header.clear();
                    }
                }
            }
        }
        seen
    }
}

impl Texts {
    /// A frame with `opcode` starts: a text frame opens a message, a continuation goes on
    /// with the one open, a binary frame is none of ours.
    fn begin(&mut self, opcode: u8) {
        match opcode {
            1 => {
                self.open = true;
                self.too_long = false;
                self.message.clear();
            }
            2 => self.open = false,
            _ => {}
        }
    }

    /// Payload bytes of the current frame, `read` of them already read.
    fn take(&mut self, bytes: &[u8], mask: Option<[u8; 4]>, read: u64) {
        if self.too_long || self.message.len() + bytes.len() > self.limit {
            self.too_long = true;
            self.message.clear();
            return;
        }
        self.message.extend(
            (bytes.iter().enumerate())
                .map(|(i, b)| mask.map_or(*b, |m| b ^ m[(read as usize + i) % 4])),
        );
    }
}

/// A data frame ended: when it was the last of a text message, the message.
fn finish_text(texts: &mut Option<Texts>, seen: &mut Vec<Seen>, opcode: u8, fin: bool) {
    let Some(t) = texts.as_mut().filter(|t| t.open && opcode < 8 && fin) else {
        return;
    };
    t.open = false;
    let message = std::mem::take(&mut t.message);
    let text = (!std::mem::take(&mut t.too_long))
        .then(|| String::from_utf8(message).ok())
        .flatten();
    seen.push(Seen::Text(text));
}

fn finish(seen: &mut Vec<Seen>, opcode: u8, close: &[u8], end: usize) {
    if opcode == 8 {
        let code = (close.len() >= 2).then(|| u16::from_be_bytes([close[0], close[1]]));
        let reason = String::from_utf8_lossy(close.get(2..).unwrap_or_default()).into_owned();
        seen.push(Seen::Close { code, reason });
    }
    seen.push(Seen::Frame { opcode, end });
}

/// A complete frame header's length: 2, plus 2 or 8 for an extended length, plus 4 for a
/// mask. Needs the first 2 bytes.
fn header_len(h: &[u8]) -> usize {
    let ext = match h[1] & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + ext + if h[1] & 0x80 != 0 { 4 } else { 0 }
}

fn parse_header(h: &[u8]) -> (u8, u64, Option<[u8; 4]>) {
    let opcode = h[0] & 0x0f;
    let (len, rest) = match h[1] & 0x7f {
        126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), &h[4..]),
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[2..10]);
            (u64::from_be_bytes(b), &h[10..])
        }
        n => (u64::from(n), &h[2..]),
    };
    let mask = (h[1] & 0x80 != 0).then(|| [rest[0], rest[1], rest[2], rest[3]]);
    (opcode, len, mask)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The status of an HTTP response head (`HTTP/1.1 101 Switching Protocols`).
fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split(' ');
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    words.next()?.parse().ok()
}

/// A close frame from the server side (unmasked) with `code` and no reason.
pub fn close_frame(code: u16) -> [u8; 4] {
    let [hi, lo] = code.to_be_bytes();
    [0x88, 2, hi, lo]
}

/// An HTTP response refusing a handshake with `status`.
pub fn refusal(status: u16) -> String {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Refused",
    };
    format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n";

    fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(m | n as u8),
            n if n <= 0xffff => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                f.extend_from_slice(&k);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    /// What a stream showed: the head's status, frame opcodes, close codes, where each ended.
    type Read = (Option<u16>, Vec<u8>, Vec<Option<u16>>, Vec<usize>);

    /// Every split of the stream into two chunks sees the same things at the same places.
    fn all_splits(bytes: &[u8]) -> Vec<Read> {
        (0..=bytes.len())
            .map(|cut| {
                let mut s = Stream::new();
                let (mut status, mut ops, mut codes, mut ends) =
                    (None, Vec::new(), Vec::new(), Vec::new());
                for (base, part) in [(0, &bytes[..cut]), (cut, &bytes[cut..])] {
                    for seen in s.feed(part) {
                        match seen {
                            Seen::Head { status: st, end } => {
                                status = st;
                                ends.push(base + end);
                            }
                            Seen::Frame { opcode, end } => {
                                ops.push(opcode);
                                ends.push(base + end);
                            }
                            Seen::Close { code, .. } => codes.push(code),
                            Seen::Text(_) => unreachable!("texts are not kept"),
                        }
                    }
                }
                assert!(s.at_boundary(), "split at {cut}");
                (status, ops, codes, ends)
            })
            .collect()
    }

    /// A frame with its FIN bit cleared: not the last of its message.
    fn part(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut f = frame(opcode, payload, mask);
        f[0] &= 0x7f;
        f
    }

    #[test]
    fn whole_text_messages_are_kept_up_to_the_limit_at_every_split() {
        let k = Some([1, 2, 3, 4]);
        let mut bytes = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
        bytes.extend(frame(1, b"{\"a\":1}", k));
        // Fragmented, with a ping between its parts (RFC 6455 5.4), then a binary frame.
        bytes.extend(part(1, b"hel", k));
        bytes.extend(frame(9, b"p", k));
        bytes.extend(frame(0, b"lo", k));
        bytes.extend(frame(2, b"bin", k));
        bytes.extend(frame(1, &[b'x'; 40], k));
        bytes.extend(frame(1, &[0xff, 0xfe], k));
        bytes.extend(frame(1, b"", k));
        for cut in (0..=bytes.len()).step_by(3) {
            let mut s = Stream::keeping_texts(32);
            let texts: Vec<Option<String>> = [&bytes[..cut], &bytes[cut..]]
                .into_iter()
                .flat_map(|chunk| s.feed(chunk))
                .filter_map(|seen| match seen {
                    Seen::Text(t) => Some(t),
                    _ => None,
                })
                .collect();
            assert_eq!(
                texts,
                [
                    Some("{\"a\":1}".to_string()),
                    Some("hello".into()),
                    None, // longer than 32 bytes
                    None, // not UTF-8
                    Some(String::new()),
                ],
                "split at {cut}"
            );
        }
    }

    #[test]
    fn a_response_and_its_frames_are_found_at_every_split() {
        let mut bytes = RESPONSE.to_vec();
        bytes.extend(frame(1, b"hello", None));
        bytes.extend(frame(2, &[7u8; 300], None));
        bytes.extend(frame(1, &[b'x'; 70_000], None));
        bytes.extend(frame(8, &[0x03, 0xf4, b'b', b'y', b'e'], None));
        let first = RESPONSE.len();
        let ends = vec![
            first,
            first + 7,
            first + 7 + 304,
            first + 7 + 304 + 70_010,
            bytes.len(),
        ];
        for got in all_splits(&bytes).into_iter().step_by(97) {
            assert_eq!(
                got,
                (Some(101), vec![1, 2, 1, 8], vec![Some(1012)], ends.clone())
            );
        }
    }

    #[test]
    fn masked_client_frames_and_their_close_code_are_read() {
        let mut bytes = b"GET /?x=1 HTTP/1.1\r\nhost: a\r\n\r\n".to_vec();
        bytes.extend(frame(1, b"subscribe", Some([1, 2, 3, 4])));
        bytes.extend(frame(8, &[0x03, 0xe8], Some([9, 8, 7, 6])));
        for (status, ops, codes, _) in all_splits(&bytes) {
            assert_eq!((status, ops, codes), (None, vec![1, 8], vec![Some(1000)]));
        }
    }

    #[test]
    fn a_refusal_or_a_flood_without_a_head_makes_the_stream_opaque() {
        let mut s = Stream::new();
        let seen = s.feed(refusal(503).as_bytes());
        assert_eq!(
            seen,
            vec![Seen::Head {
                status: Some(503),
                end: refusal(503).len()
            }]
        );
        assert!(matches!(s.state, State::Opaque));
        let mut s = Stream::new();
        assert!(s.feed(&vec![b'a'; MAX_HEAD + 10]).is_empty());
        assert!(matches!(s.state, State::Opaque));
        // Nothing more is read from it, however much comes.
        assert!(s.feed(&frame(1, b"x", None)).is_empty());
    }

    #[test]
    fn an_injected_close_frame_reads_back_as_its_code() {
        let mut s = Stream::new();
        s.feed(RESPONSE);
        let seen = s.feed(&close_frame(4000));
        assert_eq!(
            seen[0],
            Seen::Close {
                code: Some(4000),
                reason: String::new()
            }
        );
    }
}
