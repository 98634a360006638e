//! SDK configuration shared by every request of a connection: credentials,
//! endpoint, timeouts and retries, and one EC2 client per region.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::settings::{AwsSettings, Credentials};

/// The region asked which regions exist when the connection names none and
/// the profile has no region of its own (every account has it enabled).
pub const HOME_REGION: &str = "us-east-1";

/// Timeouts for calls from a desktop over the internet: an unreachable
/// endpoint is said so within seconds; coldsnap's experience (aws.md §1)
/// is that reads which stall must time out rather than hang.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(20))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(120))
        .build()
}

/// The configuration every client of one connection is made from.
#[derive(Debug, Clone)]
pub struct Clients {
    base: SdkConfig,
    endpoint: Option<String>,
}

impl Clients {
    /// Reads the credential chain's configuration when the connection uses
    /// it (files, environment); nothing is sent yet.
    pub async fn new(settings: &AwsSettings) -> Clients {
        // rustls with ring, as the rest of the app: the SDK's default client
        // would build aws-lc-sys (see Cargo.toml).
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(timeouts())
            // Listing calls are reads: the SDK's standard retry (with backoff
            // and jitter, throttling included) is what they need.
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        // In the User-Agent, so an account's CloudTrail shows what made the calls.
        if let Ok(name) = aws_config::AppName::new("hypersdk-desktop") {
            loader = loader.app_name(name);
        }
        // The region the SDK starts from (the one asked which regions exist):
        // AWS_REGION, else the profile's, else HOME_REGION. Not the default
        // chain, whose last step asks the EC2 instance metadata service: off
        // EC2 that is a wait and a warning on every start.
        let mut profile_region = aws_config::profile::ProfileFileRegionProvider::builder();
        if let Credentials::Chain {
            profile: Some(profile),
        } = &settings.credentials
        {
            profile_region = profile_region.profile_name(profile.clone());
        }
        loader = loader.region(
            RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                .or_else(profile_region.build())
                .or_else(Region::new(HOME_REGION)),
        );
        match &settings.credentials {
            Credentials::Static {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    access_key_id.clone(),
                    secret_access_key.expose().to_owned(),
                    session_token.as_ref().map(|t| t.expose().to_owned()),
                    None,
                    "hypersdk-connection",
                ));
            }
            Credentials::Chain { profile } => {
                if let Some(profile) = profile {
                    loader = loader.profile_name(profile.clone());
                }
            }
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        Clients {
            base: loader.load().await,
            endpoint: settings.endpoint.clone(),
        }
    }

    /// The EC2 client for `region`.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let config = aws_sdk_ec2::config::Builder::from(&self.base)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_ec2::Client::from_conf(config)
    }

    /// The STS client (in the home region), for who the credentials are.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::config::Builder::from(&self.base)
            .region(Region::new(self.home_region()))
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// The region to ask for the list of regions: the profile's, else
    /// [`HOME_REGION`].
    pub fn home_region(&self) -> String {
        self.base
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_else(|| HOME_REGION.to_owned())
    }

    /// What requests for `region` are sent to, for error messages.
    pub fn endpoint_for(&self, region: &str) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("ec2.{region}.amazonaws.com"))
    }
}
