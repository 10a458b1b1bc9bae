//! Server-sent events, as both providers stream them: `event:` and `data:` lines, an
//! empty line ends an event.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

#[derive(Debug, Default, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// The longest line an event may have (a model's answer arrives in small pieces).
const MAX_LINE: usize = 1 << 20;

/// Splits a byte stream into events; lines may be cut anywhere between chunks.
#[derive(Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    current: SseEvent,
    has_data: bool,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if self.has_data || self.current.event.is_some() {
                    out.push(std::mem::take(&mut self.current));
                    self.has_data = false;
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => self.current.event = Some(value.to_owned()),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        out
    }

    /// What is left when the stream ends without a final empty line.
    pub fn finish(mut self) -> Option<SseEvent> {
        if !self.buffer.is_empty() {
            let rest = std::mem::take(&mut self.buffer);
            let mut events = self.push(&rest);
            events.extend(self.push(b"\n\n"));
            return events.pop();
        }
        (self.has_data).then_some(self.current)
    }
}

/// Feeds every event of `body` to `each` until it returns `false` or the body ends.
pub async fn for_each<S, E>(
    body: S,
    mut each: impl FnMut(SseEvent) -> Result<bool, crate::provider::ProviderError>,
    on_error: impl Fn(E) -> crate::provider::ProviderError,
) -> Result<(), crate::provider::ProviderError>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut parser = SseParser::default();
    futures_util::pin_mut!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(&on_error)?;
        if parser.buffer.len() + chunk.len() > MAX_LINE {
            return Err(crate::provider::ProviderError::Protocol(
                "an event line longer than 1 MiB".into(),
            ));
        }
        for event in parser.push(&chunk) {
            if !each(event)? {
                return Ok(());
            }
        }
    }
    if let Some(event) = parser.finish() {
        each(event)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut p = SseParser::default();
        let mut all = p.push(b"event: a\ndata: {\"x\"");
        assert!(all.is_empty());
        all.extend(p.push(b":1}\n\ndata: [DONE]\r\n\r\n: comment\n"));
        assert_eq!(
            all,
            vec![
                SseEvent {
                    event: Some("a".into()),
                    data: "{\"x\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "[DONE]".into()
                }
            ]
        );
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn a_last_event_without_blank_line_is_kept() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: tail").is_empty());
        assert_eq!(p.finish().map(|e| e.data), Some("tail".into()));
    }
}
