//! QMP framing: the client sends JSON values one after another (one per line, as clients do,
//! but nothing relies on the newlines except recovering from bad input). A streaming parser
//! takes them from a bounded buffer.

use serde_json::Value;

/// Most bytes a message may take before it is complete; a client that sends more is cut off.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// What the client sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A complete JSON value.
    Message(Value),
    /// Text that is not JSON: the parser's complaint. The rest of that line is dropped.
    Malformed(String),
    /// More than [`MAX_MESSAGE`] bytes without a complete value: the connection must end.
    TooLong,
}

/// Splits a byte stream into [`Frame`]s.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// After bad input: bytes are dropped up to the next newline.
    skipping: bool,
}

impl Framer {
    /// Takes `bytes` from the connection and appends the frames they complete to `out`. After a
    /// [`Frame::TooLong`] the framer holds nothing and the caller closes the connection.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Frame>) {
        if self.skipping {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.skipping = false;
                    bytes = &bytes[i + 1..];
                }
                None => return,
            }
        }
        self.buf.extend_from_slice(bytes);
        loop {
            let mut values = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
            match values.next() {
                None => {
                    // only white space
                    self.buf.clear();
                    return;
                }
                Some(Ok(v)) => {
                    let used = values.byte_offset();
                    self.buf.drain(..used);
                    out.push(Frame::Message(v));
                }
                Some(Err(e)) if e.is_eof() => {
                    if self.buf.len() > MAX_MESSAGE {
                        self.buf = Vec::new();
                        out.push(Frame::TooLong);
                    }
                    return;
                }
                Some(Err(e)) => {
                    out.push(Frame::Malformed(e.to_string()));
                    self.skip_line_at(offset_of(&self.buf, e.line(), e.column()));
                }
            }
        }
    }

    /// Drops the buffer up to the end of the line holding byte `at`, or all of it and what comes
    /// until the next newline.
    fn skip_line_at(&mut self, at: usize) {
        let at = at.min(self.buf.len());
        match self.buf[at..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.buf.drain(..at + i + 1);
            }
            None => {
                self.buf.clear();
                self.skipping = true;
            }
        }
    }
}

/// The byte offset of `line` (from 1) and `column` (bytes, from 1; 0 for the line's start) in
/// `buf`, as `serde_json` reports where an error is.
fn offset_of(buf: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        buf.iter().enumerate().filter(|&(_, &b)| b == b'\n').nth(line - 2).map_or(buf.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frames(chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        out
    }

    #[test]
    fn values_split_across_reads_and_packed_in_one_read() {
        let out = frames(&[b"{\"execute\": \"st", b"op\"}\r\n{\"a\": 1}{\"b\": [2]}\n  \n"]);
        assert_eq!(
            out,
            vec![
                Frame::Message(json!({"execute": "stop"})),
                Frame::Message(json!({"a": 1})),
                Frame::Message(json!({"b": [2]})),
            ]
        );
    }

    #[test]
    fn bad_input_is_reported_and_the_rest_of_its_line_dropped() {
        let out = frames(&[b"{\"execute\": query-status}\n{\"execute\": \"cont\"}\n"]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(&out[0], Frame::Malformed(m) if m.contains("line 1")), "{out:?}");
        assert_eq!(out[1], Frame::Message(json!({"execute": "cont"})));
        // an error before the line's newline came: what follows is dropped up to it
        let out = frames(&[b"{\"x\": nope", b" more garbage", b" }\n{\"y\": 2}\n"]);
        assert!(matches!(&out[0], Frame::Malformed(_)), "{out:?}");
        assert_eq!(out[1..], [Frame::Message(json!({"y": 2}))]);
        // an error on a later line of the buffer skips only that line
        let out = frames(&[b"{\"a\": 1}\n}\n{\"b\": 2}\n"]);
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(matches!(&out[1], Frame::Malformed(_)), "{out:?}");
        assert_eq!(out[2], Frame::Message(json!({"b": 2})));
    }

    #[test]
    fn an_endless_message_is_cut_off_at_the_limit() {
        let mut f = Framer::default();
        let mut out = Vec::new();
        f.push(b"{\"execute\": \"", &mut out);
        let chunk = vec![b'a'; 4096];
        let mut sent = 13;
        while out.is_empty() {
            f.push(&chunk, &mut out);
            sent += chunk.len();
            assert!(sent <= MAX_MESSAGE + chunk.len(), "not cut off after {sent} bytes");
        }
        assert_eq!(out, vec![Frame::TooLong]);
        assert!(sent > MAX_MESSAGE);
        // just under the limit is fine
        let big = format!("{{\"k\": \"{}\"}}\n", "b".repeat(MAX_MESSAGE - 20));
        assert!(matches!(&frames(&[big.as_bytes()])[..], [Frame::Message(_)]));
    }

    #[test]
    fn offsets_follow_lines_and_columns() {
        let buf = b"ab\ncde\nf";
        assert_eq!(offset_of(buf, 1, 1), 0);
        assert_eq!(offset_of(buf, 2, 2), 4);
        assert_eq!(offset_of(buf, 3, 1), 7);
        assert_eq!(offset_of(buf, 9, 9), buf.len());
    }
}
