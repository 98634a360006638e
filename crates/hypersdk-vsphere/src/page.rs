//! Retrieval pages (`RetrievePropertiesEx` / `ContinueRetrievePropertiesEx`
//! answers) read in one pass over the XML events, straight into
//! [`RetrieveResult`]: no tree of the envelope, only each property's `<val>`
//! (which discovery reads as an [`Element`]), the `obj` references and, when
//! there is one, the fault.
//!
//! A discovery page is most of a megabyte (250 VMs ≈ 0.66 MB from vcsim; the
//! device list more than triples it) and discovery parses forty of them for
//! 10,000 VMs; building the whole envelope as a tree first cost an
//! allocation per element and a second walk (`docs/PERFORMANCE.md`,
//! "vSphere discovery").
//!
//! The namespace rules, `DOCTYPE` refusal and depth limit are `xml.rs`'s
//! ([`Events`] applies them for both readers). The answer is read to the end
//! of the root element even after a fault or a bad object, so a page is
//! judged as the tree reader judges a small answer (`soap::decode`): a
//! malformed document is malformed wherever it breaks, a fault wins over
//! what the response said, and within the response the first problem in
//! document order is the one reported.

use std::borrow::Cow;

use crate::error::{Result, VsphereError};
use crate::soap::{MoRef, ObjectContent, RetrieveResult};
use crate::xml::{Element, Events, Node, malformed, unclosed};

/// The first `<soapenv:Body>` under the root of an answer.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// The body's first `<soapenv:Fault>`.
    pub(crate) fault: Option<Element>,
    /// The body's first `<{method}Response>`, as a page or why it is not one.
    pub(crate) response: Option<Result<RetrieveResult>>,
}

/// Reads an answer to `method`: `None` when it has no SOAP body.
pub(crate) fn read_answer(input: &[u8], method: &str) -> Result<Option<Body>> {
    let mut events = Events::new(input);
    loop {
        match events.next()? {
            Node::Open(_) => break,
            Node::Text(_) => {}
            Node::Close => return Err(malformed("closing tag without an opening one")),
            Node::Eof => return Err(unclosed()),
        }
    }
    // The root's name is not checked (as in `soap::decode`); its first Body is read.
    let response_name = format!("{method}Response");
    let mut body = None;
    loop {
        match events.next()? {
            Node::Open(child) if body.is_none() && child.is_soap("Body") => {
                body = Some(read_body(&mut events, &response_name)?);
            }
            Node::Open(_) => events.skip()?,
            Node::Text(_) => {}
            // The root is closed: what follows it is not read.
            Node::Close => return Ok(body),
            Node::Eof => return Err(unclosed()),
        }
    }
}

fn read_body(events: &mut Events<'_>, response_name: &str) -> Result<Body> {
    let mut body = Body::default();
    loop {
        match events.next()? {
            Node::Open(child) if body.fault.is_none() && child.is_soap("Fault") => {
                body.fault = Some(events.element(child)?);
            }
            Node::Open(child) if body.response.is_none() && child.is_vim(response_name) => {
                body.response = Some(read_response(events)?);
            }
            Node::Open(_) => events.skip()?,
            Node::Text(_) => {}
            Node::Close => return Ok(body),
            Node::Eof => return Err(unclosed()),
        }
    }
}

/// `<{method}Response>`: its first `returnval` is the page. An empty result
/// is a response element with no `returnval`.
///
/// The outer `Result` is the document (malformed: stop reading); the inner
/// one the page (a vim25 shape we cannot use: read on, and report it only if
/// the document is otherwise sound and holds no fault).
fn read_response(events: &mut Events<'_>) -> Result<Result<RetrieveResult>> {
    let mut page = None;
    loop {
        match events.next()? {
            Node::Open(child) if page.is_none() && child.is_vim("returnval") => {
                page = Some(read_returnval(events)?);
            }
            Node::Open(_) => events.skip()?,
            Node::Text(_) => {}
            Node::Close => return Ok(page.unwrap_or_else(|| Ok(RetrieveResult::default()))),
            Node::Eof => return Err(unclosed()),
        }
    }
}

fn read_returnval(events: &mut Events<'_>) -> Result<Result<RetrieveResult>> {
    let mut page = RetrieveResult::default();
    let mut failed = None;
    loop {
        match events.next()? {
            Node::Open(child) if child.is_vim("token") => {
                let token = events.text()?;
                let token = token.trim();
                if !token.is_empty() {
                    page.token = Some(token.to_owned());
                }
            }
            Node::Open(child) if failed.is_none() && child.is_vim("objects") => {
                // Objects of a page mostly have the same properties (VMs
                // with VMs): size each like the one before it.
                let hint = page.objects.last().map_or(0, |o| o.props.len());
                match read_object(events, hint)? {
                    Ok(object) => page.objects.push(object),
                    Err(e) => failed = Some(e),
                }
            }
            Node::Open(_) => events.skip()?,
            Node::Text(_) => {}
            Node::Close => return Ok(failed.map_or(Ok(page), Err)),
            Node::Eof => return Err(unclosed()),
        }
    }
}

/// One `ObjectContent`. Where an element repeats, the last one counts (`obj`,
/// and a property's `name` and `val`), as the tree walk had it.
fn read_object(events: &mut Events<'_>, props_hint: usize) -> Result<Result<ObjectContent>> {
    let mut obj = None;
    let mut props = Vec::with_capacity(props_hint);
    let mut missing = Vec::new();
    let mut failed = None;
    loop {
        match events.next()? {
            Node::Open(child) if child.is_vim("obj") => {
                let el = events.element(child)?;
                match MoRef::from_element(&el) {
                    Ok(moref) => obj = Some(moref),
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
            Node::Open(child) if child.is_vim("propSet") => match read_property(events)? {
                Ok(Some(prop)) => props.push(prop),
                // A property with no value at all (unset) comes without <val>.
                Ok(None) => {}
                Err(e) => {
                    failed.get_or_insert(e);
                }
            },
            Node::Open(child) if child.is_vim("missingSet") => {
                // Rare (a property the server could not read): kept as a tree.
                let set = events.element(child)?;
                let path = set.child_text("path").unwrap_or_default().to_owned();
                let fault = set
                    .child("fault")
                    .and_then(|f| f.child("fault"))
                    .and_then(|f| f.xsi_type.clone())
                    .unwrap_or_else(|| "unknown".into());
                missing.push((path, fault));
            }
            Node::Open(_) => events.skip()?,
            Node::Text(_) => {}
            Node::Close => break,
            Node::Eof => return Err(unclosed()),
        }
    }
    if let Some(e) = failed {
        return Ok(Err(e));
    }
    Ok(obj
        .ok_or_else(|| protocol("ObjectContent has no obj"))
        .map(|obj| ObjectContent {
            obj,
            props,
            missing,
        }))
}

/// One `DynamicProperty`: its path and, if set, its value.
fn read_property(events: &mut Events<'_>) -> Result<Result<Option<(String, Element)>>> {
    let mut name: Option<Cow<'_, str>> = None;
    let mut val = None;
    loop {
        match events.next()? {
            Node::Open(child) if child.is_vim("name") => name = Some(events.text()?),
            Node::Open(child) if child.is_vim("val") => val = Some(events.element(child)?),
            Node::Open(_) => events.skip()?,
            Node::Text(_) => {}
            Node::Close => break,
            Node::Eof => return Err(unclosed()),
        }
    }
    let Some(name) = name else {
        return Ok(Err(protocol("DynamicProperty has no name")));
    };
    Ok(Ok(val.map(|val| (name.trim().to_owned(), val))))
}

fn protocol(message: &str) -> VsphereError {
    VsphereError::Protocol(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{Fetched, decode, decode_retrieve_answer};

    const ENDPOINT: &str = "https://vc";

    /// The tree walk this module replaced, kept as the reference: parse the
    /// whole answer as a tree (`soap::decode`, still used for small answers),
    /// then walk `returnval`.
    fn tree_walk(method: &str, status: u16, answer: &[u8]) -> Result<RetrieveResult> {
        let (resp, _) = decode(ENDPOINT, method, Fetched::recorded(status, answer))?;
        let Some(rv) = resp.children.into_iter().find(|c| c.is_vim("returnval")) else {
            return Ok(RetrieveResult::default());
        };
        let mut result = RetrieveResult::default();
        for child in rv.children {
            if child.is_vim("token") {
                let token = child.text.trim();
                if !token.is_empty() {
                    result.token = Some(token.to_owned());
                }
            } else if child.is_vim("objects") {
                result.objects.push(tree_object(child)?);
            }
        }
        Ok(result)
    }

    fn tree_object(el: Element) -> Result<ObjectContent> {
        let mut obj = None;
        let mut props = Vec::new();
        let mut missing = Vec::new();
        for child in el.children {
            if child.is_vim("obj") {
                obj = Some(MoRef::from_element(&child)?);
            } else if child.is_vim("propSet") {
                let mut name = None;
                let mut val = None;
                for part in child.children {
                    if part.is_vim("name") {
                        name = Some(part.text.trim().to_owned());
                    } else if part.is_vim("val") {
                        val = Some(part);
                    }
                }
                let name = name.ok_or_else(|| protocol("DynamicProperty has no name"))?;
                if let Some(val) = val {
                    props.push((name, val));
                }
            } else if child.is_vim("missingSet") {
                let path = child.child_text("path").unwrap_or_default().to_owned();
                let fault = child
                    .child("fault")
                    .and_then(|f| f.child("fault"))
                    .and_then(|f| f.xsi_type.clone())
                    .unwrap_or_else(|| "unknown".into());
                missing.push((path, fault));
            }
        }
        Ok(ObjectContent {
            obj: obj.ok_or_else(|| protocol("ObjectContent has no obj"))?,
            props,
            missing,
        })
    }

    fn streamed(method: &str, status: u16, answer: &[u8]) -> Result<RetrieveResult> {
        decode_retrieve_answer(ENDPOINT, method, status, answer)
    }

    /// Both readers, compared whole: the page, or the error (variant and
    /// message, through `Debug`).
    fn assert_same(what: &str, method: &str, status: u16, answer: &[u8]) -> Result<RetrieveResult> {
        let want = tree_walk(method, status, answer);
        let got = streamed(method, status, answer);
        match (&want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(g, w, "{what}"),
            (w, g) => assert_eq!(format!("{g:?}"), format!("{w:?}"), "{what}"),
        }
        got
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).expect("fixture")
    }

    /// An answer to `method` whose body holds `body`, declaring the
    /// namespaces as vCenter does (on the envelope).
    fn envelope(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n<soapenv:Body>{body}\
             </soapenv:Body>\n</soapenv:Envelope>"
        )
    }

    fn response(returnval: &str) -> String {
        envelope(&format!(
            "<RetrievePropertiesExResponse xmlns=\"urn:vim25\">{returnval}\
             </RetrievePropertiesExResponse>"
        ))
    }

    #[test]
    fn recorded_pages_read_the_same_as_the_tree_walk() {
        for name in ["vcsim_retrieve_page.xml", "vcenter_shape_retrieve_page.xml"] {
            let answer = fixture(name);
            for method in ["RetrievePropertiesEx", "ContinueRetrievePropertiesEx"] {
                // The continuation's answer, as the server names it.
                let answer = String::from_utf8(answer.clone())
                    .expect("utf-8")
                    .replace("RetrievePropertiesExResponse", &format!("{method}Response"));
                let page = assert_same(name, method, 200, answer.as_bytes()).expect(name);
                assert_eq!(page.objects.len(), 1, "{name}");
                assert!(page.objects[0].props.len() >= 6, "{name}");
            }
        }
    }

    #[test]
    fn recorded_faults_read_the_same_as_the_tree_walk() {
        for (name, status) in [
            ("vcsim_fault_not_authenticated.xml", 500),
            ("vcsim_fault_not_authenticated.xml", 200),
            ("vcsim_fault_invalid_login.xml", 500),
        ] {
            let err =
                assert_same(name, "RetrievePropertiesEx", status, &fixture(name)).expect_err(name);
            assert!(
                matches!(
                    err,
                    VsphereError::NotAuthenticated | VsphereError::AuthFailed { .. }
                ),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn unusual_shapes_read_the_same_as_the_tree_walk() {
        let obj = "<obj type=\"VirtualMachine\">vm-1</obj>";
        let cases: Vec<(&str, u16, String)> = vec![
            ("empty result", 200, response("")),
            ("empty returnval", 200, response("<returnval/>")),
            (
                "pretty-printed, CDATA, entities, unset property, unknown elements",
                200,
                response(&format!(
                    "\n<returnval>\n  <token> t&amp;1 </token>\n  <objects>\n    {obj}\n    \
                     <propSet>\n      <name> name </name>\n      <val xsi:type=\"xsd:string\">\
                     <![CDATA[a<b]]> &#x41;&lt;</val>\n    </propSet>\n    \
                     <propSet><name>config.template</name></propSet>\n    \
                     <extra><deep>x</deep></extra>\n  </objects>\n  <unknown/>\n</returnval>\n"
                )),
            ),
            (
                "repeated elements: the last obj, name and val; the first returnval",
                200,
                response(&format!(
                    "<returnval><objects>{obj}<obj type=\"Folder\">f-2</obj><propSet>\
                     <name>a</name><name>b</name><val>1</val><val>2</val></propSet>\
                     </objects><token>x</token><token> </token></returnval>\
                     <returnval><token>second</token></returnval>"
                )),
            ),
            (
                "unprefixed values, device lists, a missingSet without a fault type",
                200,
                response(&format!(
                    "<returnval><objects>{obj}<propSet><name>config.hardware.device</name>\
                     <val xsi:type=\"ArrayOfVirtualDevice\"><VirtualDevice \
                     xsi:type=\"VirtualDisk\"><key>1</key></VirtualDevice><VirtualDevice \
                     xmlns=\"\"><macAddress>m</macAddress></VirtualDevice></val></propSet>\
                     <missingSet><path>p</path><fault/></missingSet></objects></returnval>"
                )),
            ),
            (
                "another namespace is not vim25",
                200,
                response(&format!(
                    "<returnval><objects xmlns=\"urn:other\">{obj}</objects>\
                     <objects>{obj}<o:propSet xmlns:o=\"urn:other\"><name>n</name><val>v</val>\
                     </o:propSet></objects></returnval>"
                )),
            ),
            ("no obj", 200, response("<returnval><objects/></returnval>")),
            (
                "a reference without a type",
                200,
                response("<returnval><objects><obj>vm-1</obj></objects></returnval>"),
            ),
            (
                "the first problem in document order",
                200,
                response(&format!(
                    "<returnval><objects>{obj}<propSet><val>1</val></propSet><obj>x</obj>\
                     </objects></returnval>"
                )),
            ),
            (
                "a fault wins over the response",
                200,
                envelope(
                    "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects/>\
                     </returnval></RetrievePropertiesExResponse><soapenv:Fault><faultcode>\
                     ServerFaultCode</faultcode><faultstring>no</faultstring><detail>\
                     <ManagedObjectNotFoundFault xmlns=\"urn:vim25\" xsi:type=\"ManagedObjectNotFound\">\
                     <obj type=\"ContainerView\">session[x]view</obj>\
                     </ManagedObjectNotFoundFault></detail></soapenv:Fault>",
                ),
            ),
            (
                "another method's response",
                200,
                envelope("<LoginResponse xmlns=\"urn:vim25\"/>"),
            ),
            (
                "not an envelope",
                200,
                "<html><body>hello</body></html>".to_owned(),
            ),
            (
                "an HTTP error page",
                503,
                "<html><body>busy</body></html>".to_owned(),
            ),
            (
                "an HTTP error that is not XML",
                502,
                "Bad gateway".to_owned(),
            ),
            ("an HTTP error with a page", 500, response("<returnval/>")),
            ("nothing", 200, String::new()),
            ("unclosed", 200, "<a><b></b>".to_owned()),
            ("a stray closing tag", 200, "</a>".to_owned()),
            (
                "mismatched",
                200,
                response("<returnval><objects></returnval>"),
            ),
            (
                "unbound prefix",
                200,
                response("<returnval><p:objects/></returnval>"),
            ),
            (
                "unknown entity",
                200,
                response("<returnval><token>&nbsp;</token></returnval>"),
            ),
            (
                "DOCTYPE",
                200,
                format!("<!DOCTYPE a [<!ENTITY x \"y\">]>{}", response("")),
            ),
            (
                "after the root",
                200,
                format!(
                    "{}<not-read",
                    response("<returnval><token>t</token></returnval>")
                ),
            ),
        ];
        for (what, status, answer) in &cases {
            let _ = assert_same(what, "RetrievePropertiesEx", *status, answer.as_bytes());
        }
    }

    #[test]
    fn a_truncated_page_is_a_clear_error() {
        let answer = fixture("vcsim_retrieve_page.xml");
        // Cut between two tags, and in the middle of one; and the last tag.
        let find = |tag: &[u8]| {
            answer
                .windows(tag.len())
                .position(|w| w == tag)
                .expect("in the fixture")
        };
        let between = find(b"<propSet");
        let last = find(b"</soapenv:Envelope");
        for cut in [between, between + 4, last, last + 5] {
            let truncated = &answer[..cut];
            let err = assert_same("truncated", "RetrievePropertiesEx", 200, truncated)
                .expect_err("truncated");
            assert_eq!(err.code(), "protocol_error", "{err}");
            assert!(
                err.to_string().starts_with("malformed XML from the server"),
                "{err}"
            );
        }
        let err = streamed("RetrievePropertiesEx", 200, &answer[..between]).expect_err("cut");
        assert!(
            err.to_string()
                .contains("ended before its root element was closed"),
            "{err}"
        );
    }

    #[test]
    fn a_too_deep_page_is_a_clear_error() {
        let deep = format!(
            "<returnval><objects><obj type=\"VirtualMachine\">vm-1</obj><propSet><name>n</name>\
             <val>{}{}</val></propSet></objects></returnval>",
            "<a>".repeat(300),
            "</a>".repeat(300)
        );
        let err = assert_same(
            "deep",
            "RetrievePropertiesEx",
            200,
            response(&deep).as_bytes(),
        )
        .expect_err("too deep");
        assert_eq!(err.code(), "protocol_error", "{err}");
        assert!(err.to_string().contains("nested too deeply"), "{err}");
        // As deep as the limit allows is fine (envelope, body, response,
        // returnval, objects, propSet, val: 7 levels, then 249 more).
        let at_limit = format!(
            "<returnval><objects><obj type=\"VirtualMachine\">vm-1</obj><propSet><name>n</name>\
             <val>{}{}</val></propSet></objects></returnval>",
            "<a>".repeat(249),
            "</a>".repeat(249)
        );
        let page = assert_same(
            "at the limit",
            "RetrievePropertiesEx",
            200,
            response(&at_limit).as_bytes(),
        )
        .expect("at the limit");
        assert_eq!(page.objects.len(), 1);
    }
}
