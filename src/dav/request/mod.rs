//! Typed DAV request bodies, parsed from the XML DOM. Protocol XML becomes these values here and
//! goes no further in XML form, except dead property elements, which are stored verbatim.
