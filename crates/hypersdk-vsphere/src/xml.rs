//! A small namespace-aware XML tree for SOAP responses, and the escaping used
//! to write requests.
//!
//! Elements are matched by (namespace URI, local name), never by prefix:
//! vCenter and vcsim bind the same namespaces to different prefixes.
//!
//! **vcsim vs vCenter, `xsi:type`:** vCenter writes
//! `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"` once on the
//! envelope and `xsi:type="xsd:int"` on values. vcsim (Go's `encoding/xml`)
//! declares the XML Schema instance namespace again on each value under the
//! prefix `_XMLSchema-instance` (`<val xmlns:_XMLSchema-instance="…"
//! _XMLSchema-instance:type="xsd:int">`). So the *attribute* is found by its
//! resolved namespace URI, whatever the prefix, and the *value* — a QName —
//! keeps only its local part (`int`, `VirtualDisk`,
//! `ArrayOfManagedObjectReference`): the vim25 and XML Schema type names we
//! look at do not collide, so the prefix is not needed.
//! See `tests/fixtures/` for recorded responses of both shapes.

use std::borrow::Cow;
use std::sync::Arc;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::error::{Result, VsphereError};

pub const NS_SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NS_VIM25: &str = "urn:vim25";
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Refuse absurd nesting (a malicious or broken server); vim25 values are a
/// few dozen levels deep at most.
const MAX_DEPTH: usize = 256;

/// One element: its namespace URI, local name, `xsi:type` (local part), other
/// attributes by local name, children and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub ns: Option<Arc<str>>,
    pub name: String,
    /// Local part of `xsi:type`, e.g. `VirtualDisk` or `int`.
    pub xsi_type: Option<String>,
    /// Attributes other than `xsi:type` and namespace declarations, by local name.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The first child with this local name in the vim25 namespace (or in no
    /// namespace: some servers leave the default namespace off nested values).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is_vim(name))
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is_vim(name))
    }

    /// Local name `name` in the vim25 namespace (or unqualified).
    pub fn is_vim(&self, name: &str) -> bool {
        self.name == name && self.ns.as_deref().is_none_or(|ns| ns == NS_VIM25)
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Trimmed text of a child, if the child exists.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Depth-first search for the first descendant (or self) with this
    /// namespace and local name.
    pub fn find(&self, ns: &str, name: &str) -> Option<&Element> {
        if self.is(ns, name) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(ns, name))
    }
}

/// Parses a whole document into its root element.
pub fn parse(input: &[u8]) -> Result<Element> {
    let mut reader = NsReader::from_reader(input);
    let mut interner = Interner::default();
    let mut stack: Vec<Element> = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let (resolved, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| malformed(format!("{e}")))?;
        // Own the namespace before `reader` is borrowed again for attributes.
        let ns = match resolved {
            ResolveResult::Bound(ns) => Some(interner.get(ns.as_ref())),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(malformed(format!(
                    "undeclared namespace prefix \"{}\"",
                    String::from_utf8_lossy(&prefix)
                )));
            }
        };
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed("elements nested too deeply"));
                }
                let el = open(&reader, ns, &start)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                let el = open(&reader, ns, &start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let mut el = stack
                    .pop()
                    .ok_or_else(|| malformed("closing tag without an opening one"))?;
                if !el.children.is_empty() && el.text.trim().is_empty() {
                    // Indentation between child elements, not a value.
                    el.text = String::new();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(text) => {
                if let Some(cur) = stack.last_mut() {
                    let decoded = text.decode().map_err(malformed)?;
                    cur.text.push_str(&decoded);
                }
            }
            Event::CData(data) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    Cow::Owned(c.to_string())
                } else {
                    let name = r.decode().map_err(malformed)?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(v) => Cow::Borrowed(v),
                        None => return Err(malformed(format!("unknown entity &{name};"))),
                    }
                };
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&resolved);
                }
            }
            Event::DocType(_) => {
                // Entity declarations are an amplification vector; SOAP never needs them.
                return Err(malformed("DOCTYPE declarations are not accepted"));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    Err(malformed(
        "the document ended before its root element was closed",
    ))
}

fn open(
    reader: &NsReader<&[u8]>,
    ns: Option<Arc<str>>,
    start: &quick_xml::events::BytesStart<'_>,
) -> Result<Element> {
    let mut el = Element {
        ns,
        name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        ..Element::default()
    };
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (resolved, local) = reader.resolve_attribute(attr.key);
        let is_xsi =
            matches!(resolved, ResolveResult::Bound(ns) if ns.as_ref() == NS_XSI.as_bytes());
        let value = attr.unescape_value().map_err(malformed)?;
        if is_xsi && local.as_ref() == b"type" {
            // A QName: keep the local part (see the module comment).
            let local_type = value.rsplit(':').next().unwrap_or_default();
            el.xsi_type = Some(local_type.to_owned());
        } else if !is_xsi {
            el.attrs.push((
                String::from_utf8_lossy(local.as_ref()).into_owned(),
                value.into_owned(),
            ));
        }
    }
    Ok(el)
}

#[derive(Default)]
struct Interner {
    seen: Vec<Arc<str>>,
}

impl Interner {
    fn get(&mut self, ns: &[u8]) -> Arc<str> {
        if let Some(found) = self.seen.iter().find(|n| n.as_bytes() == ns) {
            return Arc::clone(found);
        }
        let new: Arc<str> = Arc::from(String::from_utf8_lossy(ns).as_ref());
        self.seen.push(Arc::clone(&new));
        new
    }
}

/// Escapes text for an element body or a double-quoted attribute.
pub fn esc(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

fn malformed(detail: impl std::fmt::Display) -> VsphereError {
    VsphereError::Protocol(format!("malformed XML from the server: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_resolved_whatever_the_prefix() {
        let doc = parse(
            br#"<a:Envelope xmlns:a="http://schemas.xmlsoap.org/soap/envelope/"><a:Body>
                <R xmlns="urn:vim25"><val xmlns:q="http://www.w3.org/2001/XMLSchema-instance"
                q:type="xsd:long">42</val><v2 xmlns:xsi="urn:not-xsi" xsi:type="nope">x</v2></R>
                </a:Body></a:Envelope>"#,
        )
        .expect("parses");
        assert!(doc.is(NS_SOAP_ENV, "Envelope"));
        let r = doc.find(NS_VIM25, "R").expect("R");
        let val = r.child("val").expect("val");
        assert_eq!(val.xsi_type.as_deref(), Some("long"));
        assert_eq!(val.text, "42");
        let v2 = r.child("v2").expect("v2");
        assert_eq!(
            v2.xsi_type, None,
            "type in another namespace is not xsi:type"
        );
        assert_eq!(v2.attr("type"), Some("nope"));
    }

    #[test]
    fn text_keeps_entities_and_spaces() {
        let doc = parse(b"<n>a &amp; b &#x41; &lt;c&gt;</n>").expect("parses");
        assert_eq!(doc.text, "a & b A <c>");
    }

    #[test]
    fn malformed_and_hostile_documents_are_refused() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            b"<p:a>unbound prefix</p:a>",
        ] {
            let err = parse(bad).expect_err("refused");
            assert_eq!(err.code(), "protocol_error");
        }
        let deep = format!("{}{}", "<a>".repeat(300), "</a>".repeat(300));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
