//! HyperSDK's AWS EC2 provider.
//!
//! Discovery reads every region's instances through the official AWS SDK
//! (`aws-sdk-ec2`, features trimmed: see `Cargo.toml`). Exports go through the
//! EBS direct APIs (`../shared/providers/aws.md` §1): not in this version yet,
//! so every instance is listed with the reason it cannot be exported.
//!
//! ```text
//! client.rs     SDK configuration: credentials, endpoint, timeouts, one client per region
//! error.rs      the crate's error type, its codes, the mapping of the SDK's errors
//! inventory.rs  discovery: DescribeRegions → DescribeInstances / InstanceTypes / Volumes
//! provider.rs   the core's Provider and ProviderFactory
//! settings.rs   what a connection says: regions, credentials, endpoint
//! ```

pub mod client;
pub mod error;
pub mod inventory;
pub mod provider;
pub mod settings;

pub use error::{AwsError, Result};
pub use provider::{AwsFactory, AwsProvider};
pub use settings::AwsSettings;
