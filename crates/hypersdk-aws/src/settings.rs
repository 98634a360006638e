//! What an AWS connection says: which regions to browse, how to sign, where
//! to send requests.

use hypersdk_core::model::{Connection, Secret, Secrets};

use crate::error::{AwsError, Result};

/// How requests are signed.
#[derive(Clone)]
pub enum Credentials {
    /// An access key from the connection (its secret from the keyring).
    Static {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
    /// The SDK's standard chain (environment, `~/.aws/config` and
    /// `credentials`, SSO, a credential process), optionally for one profile.
    Chain { profile: Option<String> },
}

impl std::fmt::Debug for Credentials {
    // Never the secret: only which way and whose key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Static { access_key_id, .. } => {
                write!(f, "Static({access_key_id})")
            }
            Credentials::Chain { profile } => write!(f, "Chain({profile:?})"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub credentials: Credentials,
    /// The regions to browse; empty: every region `DescribeRegions` lists
    /// (those enabled for the account).
    pub regions: Vec<String>,
    /// Where every request goes instead of AWS's regional endpoints (a VPC
    /// endpoint, a local test server); `None`: AWS's own.
    pub endpoint: Option<String>,
}

/// A region name as AWS spells them (`us-east-1`, `ap-southeast-4`,
/// `us-gov-west-1`): lower-case letters, digits and dashes.
fn valid_region(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.contains('-')
}

impl AwsSettings {
    pub fn from_connection(connection: &Connection, secrets: &Secrets) -> Result<AwsSettings> {
        // `region` was the option's name before several regions could be browsed.
        let listed = connection
            .options
            .get("regions")
            .or_else(|| connection.options.get("region"))
            .map(String::as_str)
            .unwrap_or_default();
        let mut regions: Vec<String> = Vec::new();
        for region in listed
            .split([',', ' '])
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            if !valid_region(region) {
                return Err(AwsError::InvalidOption {
                    key: "regions",
                    message: format!(
                        "\"{region}\" is not an AWS region name (such as us-east-1 or eu-west-1)"
                    ),
                });
            }
            if !regions.iter().any(|r| r == region) {
                regions.push(region.to_owned());
            }
        }
        let access_key_id = connection.username.trim();
        let credentials = if access_key_id.is_empty() {
            Credentials::Chain {
                profile: connection
                    .options
                    .get("profile")
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty()),
            }
        } else {
            let Some(secret) = secrets.main.clone().filter(|s| !s.is_empty()) else {
                return Err(AwsError::AuthFailed {
                    detail: format!(
                        "no secret access key is saved for {access_key_id}; edit the connection to set one"
                    ),
                });
            };
            Credentials::Static {
                access_key_id: access_key_id.to_owned(),
                secret_access_key: secret,
                session_token: secrets.option("session_token").cloned(),
            }
        };
        let endpoint = Some(connection.endpoint.trim())
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        Ok(AwsSettings {
            credentials,
            regions,
            endpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypersdk_core::model::ProviderKind;

    fn connection(username: &str, options: &[(&str, &str)]) -> Connection {
        Connection {
            id: "c1".into(),
            kind: ProviderKind::Aws,
            name: "aws".into(),
            endpoint: String::new(),
            username: username.into(),
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            has_secret: true,
            secret_options: Vec::new(),
            tls_fingerprint: None,
            created_at: Default::default(),
            updated_at: Default::default(),
        }
    }

    #[test]
    fn regions_are_checked_and_kept_once() {
        let s = AwsSettings::from_connection(
            &connection("AKIA1", &[("regions", "us-east-1, eu-west-1 us-east-1")]),
            &Secrets::main("s"),
        )
        .expect("settings");
        assert_eq!(s.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(s.endpoint, None);
        let legacy = AwsSettings::from_connection(
            &connection("AKIA1", &[("region", "eu-central-1")]),
            &Secrets::main("s"),
        )
        .expect("legacy");
        assert_eq!(legacy.regions, ["eu-central-1"]);
        let bad = AwsSettings::from_connection(
            &connection("AKIA1", &[("regions", "us-east-1,../etc")]),
            &Secrets::main("s"),
        )
        .expect_err("bad region");
        assert_eq!(bad.code(), "invalid_option");
        assert!(bad.to_string().contains("../etc"), "{bad}");
    }

    #[test]
    fn no_access_key_means_the_profile_chain_and_a_key_needs_its_secret() {
        let s = AwsSettings::from_connection(
            &connection("", &[("profile", " work ")]),
            &Secrets::default(),
        )
        .expect("chain");
        assert!(
            matches!(&s.credentials, Credentials::Chain { profile: Some(p) } if p == "work"),
            "{s:?}"
        );
        let e = AwsSettings::from_connection(&connection("AKIA1", &[]), &Secrets::default())
            .expect_err("no secret");
        assert_eq!(e.code(), "auth_failed");
        let s = AwsSettings::from_connection(&connection("AKIA1", &[]), &Secrets::main("top"))
            .expect("static");
        assert!(!format!("{s:?}").contains("top"), "the secret never prints");
    }
}
