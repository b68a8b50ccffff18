//! WebDAV + CalDAV wire protocol: XML in and out, DAV headers, properties, preconditions and one
//! file per method. XML types stop here: services receive domain values.

pub mod request;
pub mod xml;
