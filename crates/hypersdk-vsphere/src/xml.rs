//! Namespace-aware reading of SOAP responses — a stream of events
//! (`Events`, which `page.rs` reads retrieval pages from) and a small tree
//! built from it ([`parse`], for the other answers) — and the escaping used
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

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::error::{Result, VsphereError};

pub const NS_SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NS_VIM25: &str = "urn:vim25";
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Refuse absurd nesting (a malicious or broken server); vim25 values are a
/// few dozen levels deep at most.
const MAX_DEPTH: usize = 256;

/// An element's namespace, resolved from its prefix. The two namespaces the
/// client looks for are variants, so an element carries no copy of a URI and
/// matching one compares tags, not strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Ns {
    /// No namespace: no default namespace was in scope.
    #[default]
    None,
    SoapEnv,
    Vim25,
    Other(Box<str>),
}

impl Ns {
    fn from_uri(uri: &[u8]) -> Ns {
        if uri == NS_VIM25.as_bytes() {
            Ns::Vim25
        } else if uri == NS_SOAP_ENV.as_bytes() {
            Ns::SoapEnv
        } else {
            Ns::Other(String::from_utf8_lossy(uri).into())
        }
    }

    pub fn uri(&self) -> Option<&str> {
        match self {
            Ns::None => None,
            Ns::SoapEnv => Some(NS_SOAP_ENV),
            Ns::Vim25 => Some(NS_VIM25),
            Ns::Other(uri) => Some(uri),
        }
    }
}

/// One element: its namespace, local name, `xsi:type` (local part), other
/// attributes by local name, children and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub ns: Ns,
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
        self.name == name && matches!(self.ns, Ns::Vim25 | Ns::None)
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.uri() == Some(ns)
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

/// Parses a whole document into its root element (small answers; retrieval
/// pages are read with `Events` without building the envelope's tree).
pub fn parse(input: &[u8]) -> Result<Element> {
    let mut events = Events::new(input);
    loop {
        match events.next()? {
            Node::Open(root) => return events.element(root),
            Node::Text(_) => {}
            Node::Close => return Err(malformed("closing tag without an opening one")),
            Node::Eof => return Err(unclosed()),
        }
    }
}

/// What [`Events::next`] reads. Every `Open` is matched by one `Close`, an
/// empty element (`<a/>`) included.
pub(crate) enum Node<'a> {
    Open(Open<'a>),
    Close,
    /// Character data of the current element, decoded: entities and
    /// character references resolved, CDATA as is.
    Text(Cow<'a, str>),
    Eof,
}

/// A start tag, its namespace resolved.
pub(crate) struct Open<'a> {
    ns: Ns,
    start: BytesStart<'a>,
}

impl Open<'_> {
    /// Local name `name` in the vim25 namespace (or unqualified), as
    /// [`Element::is_vim`].
    pub(crate) fn is_vim(&self, name: &str) -> bool {
        matches!(self.ns, Ns::Vim25 | Ns::None)
            && self.start.local_name().as_ref() == name.as_bytes()
    }

    /// Local name `name` in the SOAP envelope namespace.
    pub(crate) fn is_soap(&self, name: &str) -> bool {
        self.ns == Ns::SoapEnv && self.start.local_name().as_ref() == name.as_bytes()
    }
}

/// The document as a stream of [`Node`]s, with this module's rules applied
/// once for both the tree ([`parse`]) and the streaming page reader
/// (`page.rs`): namespaces resolved by URI, `DOCTYPE` refused, entities
/// resolved, nesting limited to [`MAX_DEPTH`], nothing after the root read.
pub(crate) struct Events<'a> {
    reader: NsReader<&'a [u8]>,
    /// Elements open now (the root is depth 1).
    depth: usize,
    /// The last `Open` was an empty element: its `Close` comes next.
    close_pending: bool,
}

impl<'a> Events<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Events<'a> {
        Events {
            reader: NsReader::from_reader(input),
            depth: 0,
            close_pending: false,
        }
    }

    pub(crate) fn next(&mut self) -> Result<Node<'a>> {
        if self.close_pending {
            self.close_pending = false;
            return Ok(Node::Close);
        }
        loop {
            // Borrowed from the input: no copy of the document.
            let event = self
                .reader
                .read_event()
                .map_err(|e| malformed(format!("{e}")))?;
            let text = match event {
                Event::Start(start) => {
                    if self.depth >= MAX_DEPTH {
                        return Err(malformed("elements nested too deeply"));
                    }
                    self.depth += 1;
                    let ns = self.resolve(&start)?;
                    return Ok(Node::Open(Open { ns, start }));
                }
                Event::Empty(start) => {
                    self.close_pending = true;
                    let ns = self.resolve(&start)?;
                    return Ok(Node::Open(Open { ns, start }));
                }
                Event::End(_) => {
                    self.depth = self
                        .depth
                        .checked_sub(1)
                        .ok_or_else(|| malformed("closing tag without an opening one"))?;
                    return Ok(Node::Close);
                }
                Event::Eof => return Ok(Node::Eof),
                Event::Text(text) if self.depth > 0 => text.decode().map_err(malformed)?,
                Event::CData(data) if self.depth > 0 => match data.into_inner() {
                    Cow::Borrowed(b) => String::from_utf8_lossy(b),
                    Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
                },
                Event::GeneralRef(r) => {
                    // Resolved (and refused if unknown) even outside the root.
                    let resolved = if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                        Cow::Owned(c.to_string())
                    } else {
                        let name = r.decode().map_err(malformed)?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(v) => Cow::Borrowed(v),
                            None => return Err(malformed(format!("unknown entity &{name};"))),
                        }
                    };
                    if self.depth == 0 {
                        continue;
                    }
                    resolved
                }
                Event::DocType(_) => {
                    // Entity declarations are an amplification vector; SOAP never needs them.
                    return Err(malformed("DOCTYPE declarations are not accepted"));
                }
                Event::Text(_)
                | Event::CData(_)
                | Event::Decl(_)
                | Event::PI(_)
                | Event::Comment(_) => continue,
            };
            return Ok(Node::Text(text));
        }
    }

    /// The namespace of a start tag just read. (End tags are not resolved:
    /// the reader checks that they repeat their start tag's name.)
    fn resolve(&self, start: &BytesStart<'_>) -> Result<Ns> {
        match self.reader.resolve_element(start.name()).0 {
            ResolveResult::Bound(ns) => Ok(Ns::from_uri(ns.as_ref())),
            ResolveResult::Unbound => Ok(Ns::None),
            ResolveResult::Unknown(prefix) => Err(malformed(format!(
                "undeclared namespace prefix \"{}\"",
                String::from_utf8_lossy(&prefix)
            ))),
        }
    }

    /// The rest of `open` as a tree, up to and including its `Close`.
    pub(crate) fn element(&mut self, open: Open<'a>) -> Result<Element> {
        let mut stack = vec![self.open(open)?];
        loop {
            match self.next()? {
                Node::Open(child) => stack.push(self.open(child)?),
                Node::Text(text) => {
                    if let Some(cur) = stack.last_mut() {
                        cur.text.push_str(&text);
                    }
                }
                Node::Close => {
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
                Node::Eof => return Err(unclosed()),
            }
        }
    }

    /// The direct text of the element just opened, up to and including its
    /// `Close`; child elements are read (and checked) but not kept. Borrowed
    /// from the input when it is one unescaped piece.
    pub(crate) fn text(&mut self) -> Result<Cow<'a, str>> {
        let mut text = Cow::Borrowed("");
        let mut depth = 0usize;
        loop {
            match self.next()? {
                Node::Open(_) => depth += 1,
                Node::Text(piece) if depth == 0 => {
                    if text.is_empty() {
                        text = piece;
                    } else {
                        text.to_mut().push_str(&piece);
                    }
                }
                Node::Text(_) => {}
                Node::Close if depth == 0 => return Ok(text),
                Node::Close => depth -= 1,
                Node::Eof => return Err(unclosed()),
            }
        }
    }

    /// Reads past the element just opened, up to and including its `Close`
    /// (still checking that it is well-formed).
    pub(crate) fn skip(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            match self.next()? {
                Node::Open(_) => depth += 1,
                Node::Text(_) => {}
                Node::Close if depth == 0 => return Ok(()),
                Node::Close => depth -= 1,
                Node::Eof => return Err(unclosed()),
            }
        }
    }

    /// An element for a start tag, without children yet. Attributes are
    /// resolved while the tag's own namespace declarations are in scope (the
    /// reader keeps them until the next event).
    fn open(&self, open: Open<'_>) -> Result<Element> {
        let Open { ns, start } = open;
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
            let (resolved, local) = self.reader.resolve_attribute(attr.key);
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
}

pub(crate) fn unclosed() -> VsphereError {
    malformed("the document ended before its root element was closed")
}

/// Escapes text for an element body or a double-quoted attribute.
pub fn esc(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

pub(crate) fn malformed(detail: impl std::fmt::Display) -> VsphereError {
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
