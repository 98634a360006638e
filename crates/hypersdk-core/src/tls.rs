//! Certificate trust for every provider's HTTPS client: normal WebPKI
//! verification by default, or exactly one pinned leaf certificate (trust on
//! first use, by SHA-256 fingerprint).
//!
//! It lives in the core because every platform needs the same rule (vSphere
//! and Proxmox pin self-signed certificates; clouds use WebPKI), and a
//! provider must never grow its own "insecure" switch. There is none here. When verification fails the verifier keeps
//! the presented leaf's fingerprint, so the error the user sees carries it and
//! the UI/CLI can offer to pin it.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Accepts 64 hex digits, upper or lower case, optionally separated by
    /// `:` or spaces (as browsers and `openssl x509 -fingerprint` print them),
    /// optionally prefixed `sha256:` / `SHA256=`.
    pub fn parse(text: &str) -> Result<Fingerprint> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let body = ["sha256:", "sha256=", "sha-256:", "sha256 fingerprint="]
            .iter()
            .find_map(|p| lower.strip_prefix(p))
            .unwrap_or(&lower);
        let digits: String = body
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect();
        let bytes = hex::decode(&digits).map_err(|_| {
            CoreError::invalid(
                "tls_fingerprint",
                format!("\"{t}\" is not hexadecimal (expected 64 hex digits, colons allowed)"),
            )
        })?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            CoreError::invalid(
                "tls_fingerprint",
                format!(
                    "\"{t}\" has {} bytes; a SHA-256 fingerprint has 32 (64 hex digits)",
                    b.len()
                ),
            )
        })?;
        Ok(Fingerprint(arr))
    }

    /// Lower-case hex without separators: the stored form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `AB:CD:…`, the form people compare with a browser's certificate view.
    pub fn to_colon_hex(&self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why the last handshake was refused, kept for the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Untrusted {
        fingerprint: Fingerprint,
        detail: String,
    },
    Changed {
        expected: Fingerprint,
        actual: Fingerprint,
    },
}

/// Shared between the verifier (inside rustls) and the transport that turns
/// a failed request into a typed error.
#[derive(Debug, Clone, Default)]
pub struct RejectionSlot(Arc<Mutex<Option<Rejection>>>);

impl RejectionSlot {
    fn put(&self, r: Rejection) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(r);
        }
    }

    pub fn take(&self) -> Option<Rejection> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

#[derive(Debug)]
struct TrustVerifier {
    pin: Option<Fingerprint>,
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
    rejections: RejectionSlot,
}

impl ServerCertVerifier for TrustVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of_der(end_entity.as_ref());
        match self.pin {
            // Pinned: exactly this leaf, whatever its issuer, name or dates —
            // the user compared the fingerprint and chose to trust it.
            // The handshake signature is still verified below, so the server
            // must hold the certificate's private key.
            Some(pin) if pin == presented => Ok(ServerCertVerified::assertion()),
            Some(pin) => {
                self.rejections.put(Rejection::Changed {
                    expected: pin,
                    actual: presented,
                });
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ))
            }
            None => self
                .webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .inspect_err(|e| {
                    self.rejections.put(Rejection::Untrusted {
                        fingerprint: presented,
                        detail: describe(e),
                    });
                }),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A refused certificate in words a sysadmin acts on; rustls' own text is
/// a Rust debug string for the rarer cases ("Other(OtherError(CaUsedAsEndEntity))").
fn describe(e: &rustls::Error) -> String {
    use CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return e.to_string();
    };
    match c {
        C::UnknownIssuer => {
            "issued by an authority this computer does not trust (self-signed?)".into()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "issued for another host name".into()
        }
        C::Expired | C::ExpiredContext { .. } => "expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "not valid yet (is this computer's clock right?)".into()
        }
        C::Revoked => "revoked by the authority that issued it".into(),
        C::BadEncoding => "malformed (it cannot be read as an X.509 certificate)".into(),
        C::BadSignature => "not signed correctly by its issuer".into(),
        // rustls still sends the deprecated unit variant for some signatures.
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "signed with an algorithm this app does not accept (an old SHA-1 or MD5 certificate?)"
                .into()
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "not issued for use by a server".into()
        }
        C::UnhandledCriticalExtension => {
            "marked with a critical extension this app does not understand".into()
        }
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => {
                "self-signed certificate: a CA certificate is used as the server's certificate"
                    .into()
            }
            Some(webpki::Error::EndEntityUsedAsCa) => {
                "a server's certificate was used to sign another one".into()
            }
            Some(
                webpki::Error::PathLenConstraintViolated | webpki::Error::MaximumPathDepthExceeded,
            ) => "its chain of issuers is too long or breaks a path-length limit".into(),
            Some(webpki::Error::NameConstraintViolation) => {
                "its issuer is not allowed to issue certificates for this name".into()
            }
            _ => format!("rejected ({other})"),
        },
        other => format!("rejected ({other})"),
    }
}

/// The OS trust store plus Mozilla's roots, loaded once per process.
fn root_store() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!(error = %e, "skipping part of the OS certificate store");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "loaded OS trust anchors");
        Arc::new(roots)
    }))
}

/// A rustls client configuration that trusts per `pin`, and the slot where
/// its verifier leaves the reason for a refusal.
pub fn client_config(pin: Option<Fingerprint>) -> Result<(rustls::ClientConfig, RejectionSlot)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(root_store(), Arc::clone(&provider))
        .build()
        .map_err(|e| CoreError::Internal(format!("cannot set up certificate checks: {e}")))?;
    let rejections = RejectionSlot::default();
    let verifier = TrustVerifier {
        pin,
        webpki,
        provider: Arc::clone(&provider),
        rejections: rejections.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CoreError::Internal(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok((config, rejections))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_the_usual_spellings() {
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let fp = Fingerprint::parse(hex).expect("plain");
        assert_eq!(fp.to_hex(), hex);
        assert_eq!(Fingerprint::parse(&fp.to_colon_hex()).expect("colons"), fp);
        assert_eq!(
            Fingerprint::parse(&format!("SHA256:{}", hex.to_uppercase())).expect("prefixed"),
            fp
        );
        assert_eq!(Fingerprint::of_der(b"test"), fp, "sha256(\"test\")");
        let short = Fingerprint::parse("abcd").expect_err("short");
        assert_eq!(short.code(), "invalid_fingerprint");
        assert!(short.to_string().contains("2 bytes"), "{short}");
        assert!(Fingerprint::parse("zz").is_err());
    }

    #[test]
    fn refused_certificates_are_told_in_words_not_debug_text() {
        let other = |e: webpki::Error| {
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                Arc::new(e),
            )))
        };
        assert_eq!(
            describe(&other(webpki::Error::CaUsedAsEndEntity)),
            "self-signed certificate: a CA certificate is used as the server's certificate"
        );
        for e in [
            other(webpki::Error::EndEntityUsedAsCa),
            rustls::Error::InvalidCertificate(CertificateError::NotValidYet),
            rustls::Error::InvalidCertificate(CertificateError::Revoked),
            rustls::Error::InvalidCertificate(CertificateError::BadSignature),
        ] {
            let said = describe(&e);
            assert!(
                !said.contains("Other(") && !said.contains("Error") && !said.contains('{'),
                "{said}"
            );
        }
    }

    #[test]
    fn a_client_config_builds_with_and_without_a_pin() {
        assert!(client_config(None).is_ok());
        assert!(client_config(Some(Fingerprint([7; 32]))).is_ok());
    }
}
