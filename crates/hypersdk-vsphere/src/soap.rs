//! The vim25 SOAP subset HyperSDK speaks, over reqwest + rustls.
//!
//! One [`SoapClient`] per connection holds the HTTP connection pool and the
//! trust settings; sessions are just cookies ([`SessionCookie`]) handed to
//! each call, so the session pool decides which session a call uses.
//! Request and response bodies are never logged: `Login` carries the
//! password and responses carry session material.

use std::fmt;
use std::sync::RwLock;
use std::time::Duration;

use url::Url;

use crate::error::{Result, VsphereError};
use crate::page;
use crate::xml::{self, Element, NS_SOAP_ENV, NS_XSI, esc};
use hypersdk_core::tls::{self, Fingerprint, Rejection, RejectionSlot};

/// SOAPAction before the server has told us its API version.
const INITIAL_API_VERSION: &str = "7.0.3.0";
const USER_AGENT: &str = concat!("hypersdk-desktop/", env!("CARGO_PKG_VERSION"));

/// A managed object reference: `<obj type="VirtualMachine">vm-42</obj>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MoRef {
    pub kind: String,
    pub value: String,
}

impl MoRef {
    pub fn new(kind: impl Into<String>, value: impl Into<String>) -> MoRef {
        MoRef {
            kind: kind.into(),
            value: value.into(),
        }
    }

    /// From an element whose `type` attribute is the kind and text the value.
    pub fn from_element(el: &Element) -> Result<MoRef> {
        let kind = el
            .attr("type")
            .ok_or_else(|| protocol(format!("<{}> is not a managed object reference", el.name)))?;
        Ok(MoRef::new(kind, el.text.trim()))
    }

    /// `<tag type="Kind">value</tag>`
    pub fn to_xml(&self, tag: &str) -> String {
        format!(
            "<{tag} type=\"{}\">{}</{tag}>",
            esc(&self.kind),
            esc(&self.value)
        )
    }
}

impl fmt::Display for MoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// `ServiceContent.about`, shown in connection details.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, specta::Type)]
pub struct About {
    pub name: String,
    pub full_name: String,
    pub vendor: String,
    pub version: String,
    pub build: String,
    /// `VirtualCenter` or `HostAgent` (a standalone ESXi host).
    pub api_type: String,
    pub api_version: String,
    pub instance_uuid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceContent {
    pub root_folder: MoRef,
    pub property_collector: MoRef,
    pub view_manager: MoRef,
    pub session_manager: MoRef,
    pub about: About,
}

impl ServiceContent {
    pub(crate) fn from_element(rv: &Element) -> Result<ServiceContent> {
        let moref = |name: &str| -> Result<MoRef> {
            rv.child(name)
                .ok_or_else(|| protocol(format!("ServiceContent has no {name}")))
                .and_then(MoRef::from_element)
        };
        let about = rv
            .child("about")
            .ok_or_else(|| protocol("ServiceContent has no about"))?;
        let text = |name: &str| about.child_text(name).unwrap_or_default().to_owned();
        Ok(ServiceContent {
            root_folder: moref("rootFolder")?,
            property_collector: moref("propertyCollector")?,
            view_manager: moref("viewManager")?,
            session_manager: moref("sessionManager")?,
            about: About {
                name: text("name"),
                full_name: text("fullName"),
                vendor: text("vendor"),
                version: text("version"),
                build: text("build"),
                api_type: text("apiType"),
                api_version: text("apiVersion"),
                instance_uuid: text("instanceUuid"),
            },
        })
    }
}

/// The session cookie. Its `Debug` is redacted: it is a bearer credential.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCookie(String);

impl SessionCookie {
    /// `name=value`, for a `Cookie` header.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// From a `Set-Cookie` header value: keeps `name=value`, drops attributes.
    pub(crate) fn from_set_cookie(header: &str) -> Option<SessionCookie> {
        let pair = header.split(';').next()?.trim();
        let (name, value) = pair.split_once('=')?;
        (!name.trim().is_empty() && !value.trim().is_empty())
            .then(|| SessionCookie(pair.to_owned()))
    }
}

impl fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionCookie(<redacted>)")
    }
}

/// `Login`'s answer, minus what is not needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// The session key: identifies the session for `SessionIsActive` and
    /// `TerminateSession`; it does not grant access (the cookie does).
    pub key: String,
    pub user_name: String,
}

impl UserSession {
    fn from_element(el: &Element) -> Result<UserSession> {
        Ok(UserSession {
            key: el
                .child_text("key")
                .ok_or_else(|| protocol("UserSession has no key"))?
                .to_owned(),
            user_name: el.child_text("userName").unwrap_or_default().to_owned(),
        })
    }
}

/// One object of a property retrieval: its reference, the properties asked
/// for (path → value element) and those the server could not read.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectContent {
    pub obj: MoRef,
    pub props: Vec<(String, Element)>,
    /// (path, fault type) for properties the server could not read.
    pub missing: Vec<(String, String)>,
}

impl ObjectContent {
    pub fn prop(&self, path: &str) -> Option<&Element> {
        self.props.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }

    pub fn text(&self, path: &str) -> Option<&str> {
        self.prop(path).map(|v| v.text.as_str())
    }

    pub fn moref(&self, path: &str) -> Option<MoRef> {
        self.prop(path).and_then(|v| MoRef::from_element(v).ok())
    }
}

/// One page of `RetrievePropertiesEx`; `token` asks for the next.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetrieveResult {
    pub token: Option<String>,
    pub objects: Vec<ObjectContent>,
}

/// Which properties of which type to collect.
#[derive(Debug, Clone, Copy)]
pub struct PropertySpec<'a> {
    pub kind: &'a str,
    pub paths: &'a [&'a str],
}

fn prop_set_xml(specs: &[PropertySpec<'_>]) -> String {
    let mut out = String::new();
    for spec in specs {
        out.push_str("<propSet><type>");
        out.push_str(&esc(spec.kind));
        out.push_str("</type><all>false</all>");
        for path in spec.paths {
            out.push_str("<pathSet>");
            out.push_str(&esc(path));
            out.push_str("</pathSet>");
        }
        out.push_str("</propSet>");
    }
    out
}

/// A `PropertyFilterSpec` over every object of a `ContainerView`.
pub fn filter_spec_for_view(view: &MoRef, specs: &[PropertySpec<'_>]) -> String {
    format!(
        "<specSet>{}<objectSet>{}<skip>true</skip>\
         <selectSet xsi:type=\"TraversalSpec\"><name>view</name><type>ContainerView</type>\
         <path>view</path><skip>false</skip></selectSet></objectSet></specSet>",
        prop_set_xml(specs),
        view.to_xml("obj")
    )
}

/// A `PropertyFilterSpec` over one object.
pub fn filter_spec_for_object(obj: &MoRef, paths: &[&str]) -> String {
    format!(
        "<specSet>{}<objectSet>{}<skip>false</skip></objectSet></specSet>",
        prop_set_xml(&[PropertySpec {
            kind: &obj.kind,
            paths,
        }]),
        obj.to_xml("obj")
    )
}

/// How long to wait for the server.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// Whole request, including reading the answer (large retrieval pages).
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(300),
        }
    }
}

/// The SOAP endpoint of one server, with its trust settings.
pub struct SoapClient {
    http: reqwest::Client,
    /// For NFC disk downloads: the same trust, but no overall request
    /// timeout (a disk takes as long as it takes), only a read timeout.
    download: reqwest::Client,
    sdk_url: Url,
    /// The endpoint as the user wrote it, for messages.
    endpoint: String,
    rejections: RejectionSlot,
    api_version: RwLock<String>,
    timeouts: Timeouts,
}

impl fmt::Debug for SoapClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoapClient")
            .field("sdk_url", &self.sdk_url.as_str())
            .finish_non_exhaustive()
    }
}

/// `https://host[:port]` → `https://host[:port]/sdk`; an explicit path is kept.
pub fn sdk_url(endpoint: &str) -> Result<Url> {
    let raw = endpoint.trim();
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let mut url = Url::parse(&with_scheme)
        .map_err(|e| VsphereError::InvalidEndpoint(format!("\"{raw}\" is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none_or(str::is_empty) {
        return Err(VsphereError::InvalidEndpoint(format!(
            "\"{raw}\" must be an https:// URL with a host name"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(VsphereError::InvalidEndpoint(
            "put the user name and password in their own fields, not in the endpoint".into(),
        ));
    }
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/sdk");
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

impl SoapClient {
    pub fn new(endpoint: &str, pin: Option<Fingerprint>, timeouts: Timeouts) -> Result<SoapClient> {
        let sdk_url = sdk_url(endpoint)?;
        let (tls_config, rejections) =
            tls::client_config(pin).map_err(|e| VsphereError::Protocol(e.to_string()))?;
        let download = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config.clone())
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.request)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| VsphereError::Protocol(format!("cannot create the HTTP client: {e}")))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .user_agent(USER_AGENT)
            .pool_idle_timeout(Duration::from_secs(60))
            // No redirects: a SOAP endpoint that redirects is misconfigured,
            // and following one could send the password elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| VsphereError::Protocol(format!("cannot create the HTTP client: {e}")))?;
        Ok(SoapClient {
            http,
            download,
            sdk_url,
            endpoint: endpoint.trim().to_owned(),
            rejections,
            api_version: RwLock::new(INITIAL_API_VERSION.to_owned()),
            timeouts,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The HTTP client for disk downloads from this server (same trust).
    pub fn download_client(&self) -> &reqwest::Client {
        &self.download
    }

    /// The SDK URL (`https://host/sdk`), to resolve NFC URLs against.
    pub fn sdk_url(&self) -> &Url {
        &self.sdk_url
    }

    /// Calls `method` on `this` and returns its `<methodResponse>` element,
    /// and the session cookie the server set, if any.
    pub(crate) async fn invoke(
        &self,
        cookie: Option<&SessionCookie>,
        method: &str,
        this: &MoRef,
        args: &str,
    ) -> Result<(Element, Option<SessionCookie>)> {
        let fetched = self.fetch(cookie, method, this, args).await?;
        decode(&self.endpoint, method, fetched)
    }

    /// Sends one call and reads the whole answer, without parsing it.
    pub(crate) async fn fetch(
        &self,
        cookie: Option<&SessionCookie>,
        method: &str,
        this: &MoRef,
        args: &str,
    ) -> Result<Fetched> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"{NS_SOAP_ENV}\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"{NS_XSI}\">\
             <soapenv:Body><{method} xmlns=\"urn:vim25\">{}{args}</{method}></soapenv:Body>\
             </soapenv:Envelope>",
            this.to_xml("_this")
        );
        let action = format!(
            "urn:vim25/{}",
            self.api_version
                .read()
                .map(|v| v.clone())
                .unwrap_or_else(|_| INITIAL_API_VERSION.to_owned())
        );
        let mut req = self
            .http
            .post(self.sdk_url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", action)
            .body(body);
        if let Some(c) = cookie {
            req = req.header(reqwest::header::COOKIE, c.0.as_str());
        }
        let started = std::time::Instant::now();
        let resp = req.send().await.map_err(|e| self.send_error(e))?;
        let status = resp.status().as_u16();
        let set_cookie = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.trim_start().starts_with("vmware_soap_session"))
            .and_then(SessionCookie::from_set_cookie);
        let bytes = resp.bytes().await.map_err(|e| self.send_error(e))?;
        tracing::trace!(
            method,
            status,
            bytes = bytes.len(),
            ms = started.elapsed().as_millis() as u64,
            "soap call"
        );
        Ok(Fetched {
            status,
            set_cookie,
            bytes,
        })
    }

    /// One call whose answer is returned as bytes, unparsed: the "server's
    /// floor" in the discovery benchmark (`examples/discovery_bench.rs`).
    #[doc(hidden)]
    pub async fn invoke_raw(
        &self,
        cookie: &SessionCookie,
        method: &str,
        this: &MoRef,
        args: &str,
    ) -> Result<Vec<u8>> {
        let fetched = self.fetch(Some(cookie), method, this, args).await?;
        if !(200..300).contains(&fetched.status) {
            return Err(VsphereError::Http {
                endpoint: self.endpoint.clone(),
                status: fetched.status,
                detail: snippet(&fetched.bytes),
            });
        }
        Ok(fetched.bytes.to_vec())
    }

    fn send_error(&self, e: reqwest::Error) -> VsphereError {
        if let Some(rejection) = self.rejections.take() {
            return match rejection {
                Rejection::Untrusted {
                    fingerprint,
                    detail,
                } => VsphereError::CertificateUntrusted {
                    endpoint: self.endpoint.clone(),
                    fingerprint,
                    detail,
                },
                Rejection::Changed { expected, actual } => VsphereError::CertificateChanged {
                    endpoint: self.endpoint.clone(),
                    expected,
                    actual,
                },
            };
        }
        if e.is_timeout() {
            let seconds = if e.is_connect() {
                self.timeouts.connect
            } else {
                self.timeouts.request
            }
            .as_secs();
            return VsphereError::Timeout {
                endpoint: self.endpoint.clone(),
                seconds,
            };
        }
        // reqwest's own message names only the URL; the cause is in the chain.
        let mut detail = String::new();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&s.to_string());
            source = s.source();
        }
        if detail.is_empty() {
            detail = e.to_string();
        }
        VsphereError::Unreachable {
            endpoint: self.endpoint.clone(),
            detail,
        }
    }

    /// Needs no session: also the cheapest "is the server there and is its
    /// certificate trusted" probe.
    pub async fn retrieve_service_content(&self) -> Result<ServiceContent> {
        let (resp, _) = self
            .invoke(
                None,
                "RetrieveServiceContent",
                &MoRef::new("ServiceInstance", "ServiceInstance"),
                "",
            )
            .await?;
        let sc = ServiceContent::from_element(
            resp.child("returnval")
                .ok_or_else(|| protocol("RetrieveServiceContent has no returnval"))?,
        )?;
        if !sc.about.api_version.is_empty()
            && let Ok(mut v) = self.api_version.write()
        {
            v.clone_from(&sc.about.api_version);
        }
        Ok(sc)
    }

    pub async fn login(
        &self,
        sc: &ServiceContent,
        user: &str,
        password: &str,
    ) -> Result<(SessionCookie, UserSession)> {
        let args = format!(
            "<userName>{}</userName><password>{}</password>",
            esc(user),
            esc(password)
        );
        let (resp, cookie) = self
            .invoke(None, "Login", &sc.session_manager, &args)
            .await?;
        let session = UserSession::from_element(
            resp.child("returnval")
                .ok_or_else(|| protocol("Login has no returnval"))?,
        )?;
        let cookie = cookie.ok_or_else(|| protocol("Login set no vmware_soap_session cookie"))?;
        Ok((cookie, session))
    }

    pub async fn logout(&self, sc: &ServiceContent, cookie: &SessionCookie) -> Result<()> {
        self.invoke(Some(cookie), "Logout", &sc.session_manager, "")
            .await
            .map(|_| ())
    }

    /// `SessionManager.SessionIsActive`: needs the `Sessions.ValidateSession`
    /// privilege on vCenter and is not implemented by ESXi (the pool falls
    /// back to [`SoapClient::current_session`] then).
    pub async fn session_is_active(
        &self,
        sc: &ServiceContent,
        cookie: &SessionCookie,
        session: &UserSession,
    ) -> Result<bool> {
        let args = format!(
            "<sessionID>{}</sessionID><userName>{}</userName>",
            esc(&session.key),
            esc(&session.user_name)
        );
        let (resp, _) = self
            .invoke(Some(cookie), "SessionIsActive", &sc.session_manager, &args)
            .await?;
        Ok(resp.child_text("returnval") == Some("true"))
    }

    /// `SessionManager.currentSession`: the session behind `cookie`, or
    /// `NotAuthenticated`.
    pub async fn current_session(
        &self,
        sc: &ServiceContent,
        cookie: &SessionCookie,
    ) -> Result<Option<UserSession>> {
        let spec = filter_spec_for_object(&sc.session_manager, &["currentSession"]);
        let page = self.retrieve_properties_ex(sc, cookie, &spec, 1).await?;
        page.objects
            .first()
            .and_then(|o| o.prop("currentSession"))
            .map(UserSession::from_element)
            .transpose()
    }

    /// `SessionManager.TerminateSession` (an administrator ending others'
    /// sessions; tests use it to expire the pool's session).
    pub async fn terminate_sessions(
        &self,
        sc: &ServiceContent,
        cookie: &SessionCookie,
        keys: &[&str],
    ) -> Result<()> {
        let args: String = keys
            .iter()
            .map(|k| format!("<sessionId>{}</sessionId>", esc(k)))
            .collect();
        self.invoke(Some(cookie), "TerminateSession", &sc.session_manager, &args)
            .await
            .map(|_| ())
    }

    pub async fn create_container_view(
        &self,
        sc: &ServiceContent,
        cookie: &SessionCookie,
        container: &MoRef,
        kinds: &[&str],
        recursive: bool,
    ) -> Result<MoRef> {
        let mut args = container.to_xml("container");
        for k in kinds {
            args.push_str("<type>");
            args.push_str(&esc(k));
            args.push_str("</type>");
        }
        args.push_str(&format!("<recursive>{recursive}</recursive>"));
        let (resp, _) = self
            .invoke(Some(cookie), "CreateContainerView", &sc.view_manager, &args)
            .await?;
        MoRef::from_element(
            resp.child("returnval")
                .ok_or_else(|| protocol("CreateContainerView has no returnval"))?,
        )
    }

    pub async fn destroy_view(&self, cookie: &SessionCookie, view: &MoRef) -> Result<()> {
        self.invoke(Some(cookie), "DestroyView", view, "")
            .await
            .map(|_| ())
    }

    /// One page; `spec_set` from [`filter_spec_for_view`] or
    /// [`filter_spec_for_object`]. The server may return fewer objects than
    /// `max_objects` and a token for the rest.
    pub async fn retrieve_properties_ex(
        &self,
        sc: &ServiceContent,
        cookie: &SessionCookie,
        spec_set: &str,
        max_objects: u32,
    ) -> Result<RetrieveResult> {
        let args = format!("{spec_set}<options><maxObjects>{max_objects}</maxObjects></options>");
        let method = "RetrievePropertiesEx";
        let fetched = self
            .fetch(Some(cookie), method, &sc.property_collector, &args)
            .await?;
        decode_retrieve(&self.endpoint, method, fetched)
    }

    pub async fn continue_retrieve_properties_ex(
        &self,
        sc: &ServiceContent,
        cookie: &SessionCookie,
        token: &str,
    ) -> Result<RetrieveResult> {
        let args = format!("<token>{}</token>", esc(token));
        let method = "ContinueRetrievePropertiesEx";
        let fetched = self
            .fetch(Some(cookie), method, &sc.property_collector, &args)
            .await?;
        // The continuation's returnval *is* the RetrieveResult.
        decode_retrieve(&self.endpoint, method, fetched)
    }

    /// All pages of a retrieval, in order.
    pub async fn retrieve_all(
        &self,
        sc: &ServiceContent,
        cookie: &SessionCookie,
        spec_set: &str,
        page_size: u32,
    ) -> Result<Vec<ObjectContent>> {
        let mut page = self
            .retrieve_properties_ex(sc, cookie, spec_set, page_size)
            .await?;
        let mut objects = std::mem::take(&mut page.objects);
        while let Some(token) = page.token.take() {
            page = self
                .continue_retrieve_properties_ex(sc, cookie, &token)
                .await?;
            objects.append(&mut page.objects);
        }
        Ok(objects)
    }
}

/// One call's answer, read but not parsed yet.
pub(crate) struct Fetched {
    status: u16,
    set_cookie: Option<SessionCookie>,
    bytes: bytes::Bytes,
}

#[cfg(test)]
impl Fetched {
    /// A recorded answer, as if just read from the server.
    pub(crate) fn recorded(status: u16, answer: &[u8]) -> Fetched {
        Fetched {
            status,
            set_cookie: None,
            bytes: bytes::Bytes::copy_from_slice(answer),
        }
    }
}

pub(crate) fn fetched_bytes(f: &Fetched) -> &[u8] {
    &f.bytes
}

/// Parses a small answer: the `<methodResponse>` element, or the fault as a
/// typed error. Retrieval pages go through [`decode_retrieve`] instead.
pub(crate) fn decode(
    endpoint: &str,
    method: &str,
    fetched: Fetched,
) -> Result<(Element, Option<SessionCookie>)> {
    let Fetched {
        status,
        set_cookie,
        bytes,
    } = fetched;
    let success = (200..300).contains(&status);
    let doc = match xml::parse(&bytes) {
        Ok(doc) => doc,
        Err(_) if !success => {
            return Err(VsphereError::Http {
                endpoint: endpoint.to_owned(),
                status,
                detail: snippet(&bytes),
            });
        }
        Err(e) => return Err(e),
    };
    // Taken by value: a retrieval page can be megabytes, never copy it.
    let body = doc
        .children
        .into_iter()
        .find(|c| c.is(NS_SOAP_ENV, "Body"))
        .ok_or_else(|| {
            if success {
                protocol(format!("{method}: the answer is not a SOAP envelope"))
            } else {
                VsphereError::Http {
                    endpoint: endpoint.to_owned(),
                    status,
                    detail: snippet(&bytes),
                }
            }
        })?;
    if let Some(fault) = body.children.iter().find(|c| c.is(NS_SOAP_ENV, "Fault")) {
        return Err(fault_error(endpoint, method, fault));
    }
    if !success {
        return Err(VsphereError::Http {
            endpoint: endpoint.to_owned(),
            status,
            detail: snippet(&bytes),
        });
    }
    let response_name = format!("{method}Response");
    let response = body
        .children
        .into_iter()
        .find(|c| c.is_vim(&response_name))
        .ok_or_else(|| protocol(format!("{method}: no <{response_name}> in the answer")))?;
    Ok((response, set_cookie))
}

/// A `RetrievePropertiesEx` / `ContinueRetrievePropertiesEx` answer as a
/// page, read in one pass (`page.rs`). CPU work only: discovery parses its
/// pages off the async threads (`SessionCtx::retrieve_all`).
pub(crate) fn decode_retrieve(
    endpoint: &str,
    method: &str,
    fetched: Fetched,
) -> Result<RetrieveResult> {
    decode_retrieve_answer(endpoint, method, fetched.status, &fetched.bytes)
}

pub(crate) fn decode_retrieve_answer(
    endpoint: &str,
    method: &str,
    status: u16,
    bytes: &[u8],
) -> Result<RetrieveResult> {
    let success = (200..300).contains(&status);
    let http = || VsphereError::Http {
        endpoint: endpoint.to_owned(),
        status,
        detail: snippet(bytes),
    };
    // The same precedence as `decode`: malformed, no body, fault, HTTP
    // status, no response element, then the page's own problems.
    let body = match page::read_answer(bytes, method) {
        Ok(Some(body)) => body,
        Ok(None) if success => {
            return Err(protocol(format!(
                "{method}: the answer is not a SOAP envelope"
            )));
        }
        Ok(None) => return Err(http()),
        Err(_) if !success => return Err(http()),
        Err(e) => return Err(e),
    };
    if let Some(fault) = &body.fault {
        return Err(fault_error(endpoint, method, fault));
    }
    if !success {
        return Err(http());
    }
    body.response
        .ok_or_else(|| protocol(format!("{method}: no <{method}Response> in the answer")))?
}

/// Parses a successful (HTTP 200) `method` answer as a retrieval page, as
/// discovery does; for `examples/page_parse_bench.rs`.
#[doc(hidden)]
pub fn parse_retrieve_answer(method: &str, answer: &[u8]) -> Result<RetrieveResult> {
    decode_retrieve_answer("bench", method, 200, answer)
}

/// The continuation token of an unparsed retrieval page, found cheaply so
/// the next page can be requested while this one is parsed. `None` when the
/// page has no token *or* it cannot be read this way (escaped characters, a
/// prefixed element); the caller then waits for the parsed token. Element
/// text never contains a literal `<token>` (it would be escaped), and the
/// token comes first in `RetrieveResult`, so only the start is searched.
pub(crate) fn scan_token(page: &[u8]) -> Option<String> {
    const OPEN: &[u8] = b"<token>";
    let head = &page[..page.len().min(8192)];
    let start = head.windows(OPEN.len()).position(|w| w == OPEN)? + OPEN.len();
    let len = page[start..].iter().take(1024).position(|&b| b == b'<')?;
    let token = std::str::from_utf8(&page[start..start + len]).ok()?;
    (!token.is_empty() && !token.contains('&')).then(|| token.to_owned())
}

/// A `<soapenv:Fault>` as a typed error, by the vim25 fault type in `<detail>`.
fn fault_error(endpoint: &str, method: &str, fault: &Element) -> VsphereError {
    let message = fault
        .children
        .iter()
        .find(|c| c.name == "faultstring")
        .map(|c| c.text.trim().to_owned())
        .unwrap_or_default();
    let detail = fault
        .children
        .iter()
        .find(|c| c.name == "detail")
        .and_then(|d| d.children.first());
    let fault_type = detail
        .map(|d| {
            d.xsi_type
                .clone()
                .unwrap_or_else(|| d.name.trim_end_matches("Fault").to_owned())
        })
        .unwrap_or_default();
    match fault_type.as_str() {
        "NotAuthenticated" => VsphereError::NotAuthenticated,
        "InvalidLogin" => VsphereError::AuthFailed {
            endpoint: endpoint.to_owned(),
        },
        "NoPermission" => {
            let privilege = detail
                .and_then(|d| d.child_text("privilegeId"))
                .map(|p| format!(" (needs privilege {p})"))
                .unwrap_or_default();
            VsphereError::NoPermission(format!("{method}{privilege}: {message}"))
        }
        "ManagedObjectNotFound" => VsphereError::NotFound {
            what: "managed object",
            id: detail
                .and_then(|d| d.child("obj"))
                .map(|o| o.text.trim().to_owned())
                .unwrap_or_default(),
        },
        // Some ESXi builds send the fault with an empty <detail>; the
        // fault string is then the only hint that the session is gone.
        "" if message.to_ascii_lowercase().contains("not authenticated") => {
            VsphereError::NotAuthenticated
        }
        _ => VsphereError::Fault {
            method: method.to_owned(),
            fault: if fault_type.is_empty() {
                "SOAP fault".into()
            } else {
                fault_type
            },
            message,
        },
    }
}

fn protocol(message: impl Into<String>) -> VsphereError {
    VsphereError::Protocol(message.into())
}

/// The start of a non-SOAP answer, for an error message.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        "empty answer".into()
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Element {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        xml::parse(&std::fs::read(&path).expect("fixture")).expect("parses")
    }

    fn retrieve_fixture(name: &str) -> RetrieveResult {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let answer = std::fs::read(&path).expect("fixture");
        parse_retrieve_answer("RetrievePropertiesEx", &answer).expect("page")
    }

    fn body_child(doc: &Element) -> &Element {
        doc.children
            .iter()
            .find(|c| c.is(NS_SOAP_ENV, "Body"))
            .and_then(|b| b.children.first())
            .expect("body content")
    }

    #[test]
    fn recorded_faults_become_typed_errors() {
        let login = fixture("vcsim_fault_invalid_login.xml");
        let fault = body_child(&login);
        assert!(fault.is(NS_SOAP_ENV, "Fault"));
        let e = fault_error("https://vc", "Login", fault);
        assert_eq!(e.code(), "auth_failed", "{e}");
        let gone = fixture("vcsim_fault_not_authenticated.xml");
        let e = fault_error("https://vc", "RetrievePropertiesEx", body_child(&gone));
        assert!(matches!(e, VsphereError::NotAuthenticated), "{e:?}");
    }

    #[test]
    fn recorded_service_content_parses() {
        let doc = fixture("vcsim_service_content.xml");
        let resp = body_child(&doc);
        assert!(resp.is_vim("RetrieveServiceContentResponse"));
        let sc = ServiceContent::from_element(resp.child("returnval").expect("rv")).expect("sc");
        assert_eq!(sc.root_folder, MoRef::new("Folder", "group-d1"));
        assert_eq!(sc.property_collector.value, "propertyCollector");
        assert_eq!(sc.view_manager.kind, "ViewManager");
        assert_eq!(sc.session_manager.value, "SessionManager");
        assert_eq!(sc.about.api_type, "VirtualCenter");
        assert_eq!(sc.about.api_version, "6.5");
    }

    #[test]
    fn recorded_retrieve_pages_parse_in_both_xsi_spellings() {
        // vcsim: `_XMLSchema-instance:type`, declared per element, with a token.
        let page = retrieve_fixture("vcsim_retrieve_page.xml");
        assert_eq!(
            page.token.as_deref(),
            Some("ff8ee3d2-6fac-4e42-a537-13778f58323e")
        );
        assert_eq!(page.objects.len(), 1);
        let vm = &page.objects[0];
        assert_eq!(vm.obj, MoRef::new("VirtualMachine", "vm-102"));
        assert_eq!(vm.text("name"), Some("DC0_H0_VM0"));
        assert_eq!(
            vm.prop("config.hardware.numCPU")
                .and_then(|v| v.xsi_type.as_deref()),
            Some("int")
        );
        assert_eq!(vm.moref("parent"), Some(MoRef::new("Folder", "group-2")));
        assert_eq!(
            vm.prop("config.hardware.device").map(|d| d.children.len()),
            Some(5)
        );
        assert!(vm.missing.is_empty());

        // vCenter's shape: `xsi:` from the envelope, no token, a missingSet,
        // escaped characters in a name.
        let page = retrieve_fixture("vcenter_shape_retrieve_page.xml");
        assert_eq!(page.token, None);
        let vm = &page.objects[0];
        assert_eq!(vm.text("name"), Some("db & cache <prod> %2f x"));
        assert_eq!(
            vm.prop("config.hardware.memoryMB")
                .and_then(|v| v.xsi_type.as_deref()),
            Some("int")
        );
        assert_eq!(vm.text("runtime.powerState"), Some("suspended"));
        assert_eq!(
            vm.missing,
            vec![("config.template".to_owned(), "NoPermission".to_owned())]
        );
    }

    #[test]
    fn tokens_are_found_without_parsing_or_not_at_all() {
        let page = std::fs::read(format!(
            "{}/tests/fixtures/vcsim_retrieve_page.xml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        assert_eq!(
            scan_token(&page).as_deref(),
            Some("ff8ee3d2-6fac-4e42-a537-13778f58323e")
        );
        let last = std::fs::read(format!(
            "{}/tests/fixtures/vcenter_shape_retrieve_page.xml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        assert_eq!(scan_token(&last), None);
        assert_eq!(scan_token(b"<r><token>a&amp;b</token></r>"), None);
    }

    #[test]
    fn endpoints_become_sdk_urls() {
        let cases = [
            ("vc.example.com", "https://vc.example.com/sdk"),
            ("https://vc.example.com", "https://vc.example.com/sdk"),
            (
                "https://vc.example.com:8443/",
                "https://vc.example.com:8443/sdk",
            ),
            ("https://127.0.0.1:1234/sdk", "https://127.0.0.1:1234/sdk"),
            ("https://vc/custom/path", "https://vc/custom/path"),
        ];
        for (input, want) in cases {
            assert_eq!(sdk_url(input).expect(input).as_str(), want);
        }
        for bad in ["ftp://vc", "https://", "https://u:p@vc"] {
            assert_eq!(
                sdk_url(bad).expect_err(bad).code(),
                "invalid_endpoint",
                "{bad}"
            );
        }
    }

    #[test]
    fn session_cookie_keeps_only_the_pair_and_is_redacted() {
        let c = SessionCookie::from_set_cookie(
            "vmware_soap_session=\"52ab\"; Path=/; HttpOnly; Secure;",
        )
        .expect("cookie");
        assert_eq!(c.0, "vmware_soap_session=\"52ab\"");
        assert!(!format!("{c:?}").contains("52ab"));
        assert!(SessionCookie::from_set_cookie("junk").is_none());
    }

    #[test]
    fn filter_specs_are_well_formed_and_escaped() {
        let view = MoRef::new("ContainerView", "session[a&b]view-1");
        let spec = filter_spec_for_view(
            &view,
            &[PropertySpec {
                kind: "VirtualMachine",
                paths: &["name", "runtime.powerState"],
            }],
        );
        assert!(spec.contains("session[a&amp;b]view-1"), "{spec}");
        let wrapped = format!("<r xmlns:xsi=\"{NS_XSI}\">{spec}</r>");
        let doc = xml::parse(wrapped.as_bytes()).expect("well-formed");
        let set = doc.child("specSet").expect("specSet");
        assert_eq!(set.children_named("propSet").count(), 1);
        let sel = set
            .child("objectSet")
            .and_then(|o| o.child("selectSet"))
            .expect("selectSet");
        assert_eq!(sel.xsi_type.as_deref(), Some("TraversalSpec"));
    }
}
