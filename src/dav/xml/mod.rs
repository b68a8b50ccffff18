//! XML for DAV: namespaced names, a small safe DOM reader for request bodies, a streaming
//! writer for responses with fixed prefixes, and tree comparison for tests.

pub mod compare;
pub mod name;
pub mod reader;
pub mod writer;

pub use compare::xml_tree_eq;
pub use name::{APPLE, CALDAV, CS, DAV, QName, XML_NS};
pub use reader::{Element, Limits, Node, XmlError, parse, parse_with_limits};
pub use writer::XmlWriter;
