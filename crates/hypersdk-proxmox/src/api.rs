//! The PVE REST API subset HyperSDK speaks (`/api2/json`), over reqwest with
//! the connection's certificate trust.
//!
//! Two ways to sign in, chosen by the user name: `user@realm!tokenid` is an
//! API token (header `Authorization: PVEAPIToken=…`, no CSRF check, nothing
//! to renew); anything else is a password, exchanged for a ticket
//! (`POST /access/ticket`) sent as the `PVEAuthCookie` cookie, with the
//! `CSRFPreventionToken` header on every write. PVE tickets live two hours;
//! the client signs in again before that, and once more when PVE answers 401
//! to a ticket it issued (a restarted cluster forgets them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hypersdk_core::model::Secret;
use hypersdk_core::tls::{self, Fingerprint, Rejection, RejectionSlot};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::error::{ProxmoxError, Result, privilege_of};

const USER_AGENT: &str = concat!("hypersdk-desktop/", env!("CARGO_PKG_VERSION"));
/// PVE's ticket lifetime is 2 h; sign in again well before it ends.
const TICKET_RENEW_AFTER: Duration = Duration::from_secs(90 * 60);

/// Per-request limits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// How the client signs in.
#[derive(Clone)]
pub enum Credentials {
    /// `user@realm!tokenid` and the token's secret (a UUID).
    Token { id: String, secret: Secret },
    /// `user@realm` and its password, exchanged for a ticket.
    Password { user: String, password: Secret },
}

impl Credentials {
    /// A token when the user name names one (`user@realm!tokenid`).
    pub fn from_login(user: &str, secret: Secret) -> Credentials {
        let user = user.trim();
        if user.contains('!') {
            Credentials::Token {
                id: user.to_owned(),
                secret,
            }
        } else {
            Credentials::Password {
                user: user.to_owned(),
                password: secret,
            }
        }
    }

    pub fn user(&self) -> &str {
        match self {
            Credentials::Token { id, .. } => id,
            Credentials::Password { user, .. } => user,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token { id, .. } => f
                .debug_struct("Token")
                .field("id", id)
                .finish_non_exhaustive(),
            Credentials::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .finish_non_exhaustive(),
        }
    }
}

struct Ticket {
    cookie: HeaderValue,
    csrf: HeaderValue,
    issued: Instant,
}

/// The `{"data": …}` envelope of every `/api2/json` answer.
#[derive(serde::Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(serde::Deserialize)]
struct TicketAnswer {
    ticket: String,
    #[serde(rename = "CSRFPreventionToken")]
    csrf: String,
}

/// `GET /version`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Version {
    pub version: String,
    #[serde(default)]
    pub release: String,
}

/// A REST client for one PVE endpoint.
pub struct ApiClient {
    endpoint: String,
    base: String,
    http: reqwest::Client,
    rejections: RejectionSlot,
    credentials: Credentials,
    ticket: Mutex<Option<Ticket>>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// `endpoint` as the connection stores it (`https://pve:8006`, port 8006
    /// when none is given).
    pub fn new(
        endpoint: &str,
        pin: Option<Fingerprint>,
        credentials: Credentials,
        timeouts: Timeouts,
    ) -> Result<ApiClient> {
        let mut url = url::Url::parse(endpoint).map_err(|e| {
            ProxmoxError::InvalidEndpoint(format!("\"{endpoint}\" is not a URL ({e})"))
        })?;
        if url.port().is_none() {
            // PVE's API listens on 8006; `https://pve` means that, not 443.
            let _ = url.set_port(Some(8006));
        }
        url.set_path("");
        let base = format!("{}/api2/json", url.as_str().trim_end_matches('/'));
        let (tls_config, rejections) =
            tls::client_config(pin).map_err(|e| ProxmoxError::Protocol(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProxmoxError::Protocol(format!("cannot create the HTTP client: {e}")))?;
        Ok(ApiClient {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            base,
            http,
            rejections,
            credentials,
            ticket: Mutex::new(None),
            timeouts,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// `GET path` (below `/api2/json`), the `data` of the answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let bytes = self.send("GET", path, &[]).await?;
        parse_data(path, &bytes)
    }

    /// `POST path` with form parameters, the `data` of the answer.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, form: &[(&str, &str)]) -> Result<T> {
        let bytes = self.send("POST", path, form).await?;
        parse_data(path, &bytes)
    }

    /// `DELETE path`, the `data` of the answer.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let bytes = self.send("DELETE", path, &[]).await?;
        parse_data(path, &bytes)
    }

    /// `GET /version`: reachability, trust and credentials in one call.
    pub async fn version(&self) -> Result<Version> {
        self.get("/version").await
    }

    /// Signs in now (a ticket for a password; tokens need nothing but are
    /// checked by the next call).
    pub async fn sign_in(&self) -> Result<()> {
        if let Credentials::Password { .. } = self.credentials {
            let mut slot = self.ticket.lock().await;
            *slot = Some(self.login().await?);
        }
        Ok(())
    }

    async fn login(&self) -> Result<Ticket> {
        let Credentials::Password { user, password } = &self.credentials else {
            return Err(ProxmoxError::Protocol("a token does not sign in".into()));
        };
        let resp = self
            .http
            .post(format!("{}/access/ticket", self.base))
            .form(&[("username", user.as_str()), ("password", password.expose())])
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| self.send_error(e))?;
        if status == 401 || status == 403 {
            return Err(ProxmoxError::AuthFailed {
                endpoint: self.endpoint.clone(),
                detail: format!("the user name ({user}) or password is not correct"),
            });
        }
        if !(200..300).contains(&status) {
            return Err(self.status_error("POST", "/access/ticket", status, &bytes));
        }
        let answer: TicketAnswer = parse_data("/access/ticket", &bytes)?;
        let header = |v: String, what: &str| {
            HeaderValue::from_str(&v)
                .map(|mut h| {
                    h.set_sensitive(true);
                    h
                })
                .map_err(|_| ProxmoxError::Protocol(format!("PVE sent an unusable {what}")))
        };
        Ok(Ticket {
            cookie: header(format!("PVEAuthCookie={}", answer.ticket), "ticket")?,
            csrf: header(answer.csrf, "CSRF token")?,
            issued: Instant::now(),
        })
    }

    /// The headers that authenticate one request; `fresh` signs in again.
    async fn auth_headers(&self, write: bool, fresh: bool) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        match &self.credentials {
            Credentials::Token { id, secret } => {
                let mut v =
                    HeaderValue::from_str(&format!("PVEAPIToken={id}={}", secret.expose().trim()))
                        .map_err(|_| ProxmoxError::AuthFailed {
                            endpoint: self.endpoint.clone(),
                            detail:
                                "the API token id or secret contains characters PVE never issues"
                                    .into(),
                        })?;
                v.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, v);
            }
            Credentials::Password { .. } => {
                let mut slot = self.ticket.lock().await;
                let stale = slot
                    .as_ref()
                    .is_none_or(|t| t.issued.elapsed() >= TICKET_RENEW_AFTER);
                if fresh || stale {
                    *slot = Some(self.login().await?);
                }
                if let Some(t) = slot.as_ref() {
                    headers.insert(reqwest::header::COOKIE, t.cookie.clone());
                    if write {
                        headers.insert("CSRFPreventionToken", t.csrf.clone());
                    }
                }
            }
        }
        Ok(headers)
    }

    async fn send(
        &self,
        method: &'static str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<bytes::Bytes> {
        let write = method != "GET";
        let mut fresh = false;
        loop {
            let headers = self.auth_headers(write, fresh).await?;
            let url = format!("{}{}", self.base, path);
            let req = match method {
                "GET" => self.http.get(url),
                "DELETE" => self.http.delete(url),
                _ => self.http.post(url).form(form),
            };
            let resp = req
                .headers(headers)
                .send()
                .await
                .map_err(|e| self.send_error(e))?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.map_err(|e| self.send_error(e))?;
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            // A ticket PVE no longer knows (cluster restarted, ticket
            // revoked): sign in once more before giving up.
            if status == 401 && !fresh && matches!(self.credentials, Credentials::Password { .. }) {
                fresh = true;
                continue;
            }
            return Err(self.status_error(method, path, status, &bytes));
        }
    }

    fn status_error(
        &self,
        method: &'static str,
        path: &str,
        status: u16,
        body: &[u8],
    ) -> ProxmoxError {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let mut message = parsed
            .as_ref()
            .and_then(|b| b.message.clone())
            .unwrap_or_default()
            .trim()
            .to_owned();
        if let Some(errors) = parsed.as_ref().and_then(|b| b.errors.as_ref()) {
            let fields: Vec<String> = errors
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("invalid").trim()))
                .collect();
            if !fields.is_empty() {
                message = format!("{message} ({})", fields.join("; "));
            }
        }
        if message.is_empty() {
            message = String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned();
        }
        match status {
            401 => ProxmoxError::AuthFailed {
                endpoint: self.endpoint.clone(),
                detail: match &self.credentials {
                    Credentials::Token { id, .. } => {
                        format!(
                            "the API token {id} or its secret is not correct, or it was revoked"
                        )
                    }
                    Credentials::Password { user, .. } => {
                        format!("the user name ({user}) or password is not correct")
                    }
                },
            },
            403 => ProxmoxError::PermissionDenied {
                endpoint: self.endpoint.clone(),
                privilege: privilege_of(&message),
                message: match privilege_of(&message) {
                    Some(p) => format!(
                        "{} lacks the privilege {p}; grant it in Datacenter → Permissions",
                        self.credentials.user()
                    ),
                    None => message,
                },
            },
            _ if message.contains("does not exist") || status == 404 => ProxmoxError::NotFound {
                what: "Proxmox resource",
                id: path.to_owned(),
            },
            _ => ProxmoxError::Api {
                method,
                path: path.to_owned(),
                status,
                message,
            },
        }
    }

    fn send_error(&self, e: reqwest::Error) -> ProxmoxError {
        if let Some(rejection) = self.rejections.take() {
            return match rejection {
                Rejection::Untrusted {
                    fingerprint,
                    detail,
                } => ProxmoxError::CertificateUntrusted {
                    endpoint: self.endpoint.clone(),
                    fingerprint,
                    detail,
                },
                Rejection::Changed { expected, actual } => ProxmoxError::CertificateChanged {
                    endpoint: self.endpoint.clone(),
                    expected,
                    actual,
                },
            };
        }
        if e.is_timeout() {
            let limit = if e.is_connect() {
                self.timeouts.connect
            } else {
                self.timeouts.request
            };
            return ProxmoxError::Timeout {
                endpoint: self.endpoint.clone(),
                seconds: limit.as_secs(),
            };
        }
        // reqwest's top-level message is generic; its source says what happened.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        ProxmoxError::Unreachable {
            endpoint: self.endpoint.clone(),
            detail,
        }
    }
}

fn parse_data<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice::<Envelope<T>>(bytes)
        .map(|e| e.data)
        .map_err(|e| ProxmoxError::Protocol(format!("unexpected answer to {path}: {e}")))
}

/// A client shared by the provider's tasks.
pub type SharedClient = Arc<ApiClient>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_name_chooses_token_or_password() {
        assert!(matches!(
            Credentials::from_login("root@pam!ci", Secret::new("s")),
            Credentials::Token { .. }
        ));
        assert!(matches!(
            Credentials::from_login(" root@pam ", Secret::new("s")),
            Credentials::Password { ref user, .. } if user == "root@pam"
        ));
        let dbg = format!(
            "{:?}",
            Credentials::from_login("a@pve!t", Secret::new("hunter2"))
        );
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn the_api_lives_below_api2_json_on_port_8006_by_default() {
        let creds = || Credentials::from_login("root@pam", Secret::new("x"));
        let c = ApiClient::new(
            "https://pve.example.com",
            None,
            creds(),
            Timeouts::default(),
        )
        .expect("client");
        assert_eq!(c.base, "https://pve.example.com:8006/api2/json");
        let c = ApiClient::new("https://pve:8443/", None, creds(), Timeouts::default())
            .expect("client");
        assert_eq!(c.base, "https://pve:8443/api2/json");
    }

    #[test]
    fn errors_name_what_to_fix() {
        let c = ApiClient::new(
            "https://pve:8006",
            None,
            Credentials::from_login("ci@pve!t", Secret::new("x")),
            Timeouts::default(),
        )
        .expect("client");
        let e = c.status_error(
            "GET",
            "/cluster/resources",
            403,
            br#"{"data":null,"message":"Permission check failed (/vms/100, VM.Audit)\n"}"#,
        );
        assert_eq!(e.code(), "permission_denied");
        assert!(e.to_string().contains("VM.Audit on /vms/100"), "{e}");
        let e = c.status_error(
            "GET",
            "/nodes/pve1/qemu/999/config",
            500,
            br#"{"data":null,"message":"Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n"}"#,
        );
        assert_eq!(e.code(), "not_found");
        let e = c.status_error(
            "POST",
            "/nodes/pve1/vzdump",
            400,
            br#"{"data":null,"message":"Parameter verification failed.","errors":{"notes":"property is not defined in schema"}}"#,
        );
        assert_eq!(e.code(), "proxmox_error");
        assert!(
            e.to_string().contains("notes: property is not defined"),
            "{e}"
        );
        let e = c.status_error("GET", "/version", 401, b"");
        assert_eq!(e.code(), "auth_failed");
        assert!(e.to_string().contains("ci@pve!t"), "{e}");
    }
}
