//! Streaming XML writer for responses: fixed prefixes for the known namespaces (D, C, CS, ICAL),
//! generated ones for any other, declared where first used.

/// Builds one XML document.
pub struct XmlWriter {
    buf: Vec<u8>,
}

impl XmlWriter {
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}
