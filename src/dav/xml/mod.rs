//! XML for DAV: namespaced names, a small safe DOM reader for request bodies, and a streaming
//! writer for responses with fixed prefixes.

pub mod name;
pub mod reader;
pub mod writer;

pub use name::{APPLE, CALDAV, CS, DAV, QName};
pub use reader::{Element, Node, XmlError, parse};
pub use writer::XmlWriter;
