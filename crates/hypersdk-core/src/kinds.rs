//! What each platform's connection form asks for.

use crate::model::{FieldSpec, ProviderKind, ProviderKindInfo};

struct KindSpec {
    display_name: &'static str,
    default_port: u16,
    endpoint_hint: &'static str,
    username_label: &'static str,
    secret_label: &'static str,
    /// (key, label, help, required, placeholder)
    options: &'static [(&'static str, &'static str, &'static str, bool, &'static str)],
}

fn spec(kind: ProviderKind) -> KindSpec {
    match kind {
        ProviderKind::Vsphere => KindSpec {
            display_name: "VMware vSphere",
            default_port: 443,
            endpoint_hint: "vcenter.example.com",
            username_label: "Username",
            secret_label: "Password",
            options: &[(
                "datacenter",
                "Datacenter",
                "Limit discovery to one datacenter (all when empty)",
                false,
                "DC1",
            )],
        },
        ProviderKind::Aws => KindSpec {
            display_name: "AWS EC2",
            default_port: 443,
            endpoint_hint: "https://ec2.us-east-1.amazonaws.com",
            username_label: "Access key ID",
            secret_label: "Secret access key",
            options: &[
                (
                    "region",
                    "Region",
                    "The AWS region of the instances",
                    true,
                    "us-east-1",
                ),
                (
                    "s3_bucket",
                    "S3 bucket",
                    "Bucket used to stage image exports",
                    false,
                    "my-exports",
                ),
            ],
        },
        ProviderKind::Azure => KindSpec {
            display_name: "Microsoft Azure",
            default_port: 443,
            endpoint_hint: "https://management.azure.com",
            username_label: "Client (application) ID",
            secret_label: "Client secret",
            options: &[
                (
                    "tenant_id",
                    "Tenant ID",
                    "Directory (tenant) ID of the app registration",
                    true,
                    "",
                ),
                (
                    "subscription_id",
                    "Subscription ID",
                    "Subscription holding the VMs",
                    true,
                    "",
                ),
                (
                    "resource_group",
                    "Resource group",
                    "Limit discovery to one resource group",
                    false,
                    "",
                ),
            ],
        },
        ProviderKind::Gcp => KindSpec {
            display_name: "Google Cloud",
            default_port: 443,
            endpoint_hint: "https://compute.googleapis.com",
            username_label: "Service account email",
            secret_label: "Service account key (JSON)",
            options: &[
                (
                    "project",
                    "Project ID",
                    "Project holding the instances",
                    true,
                    "my-project",
                ),
                (
                    "zone",
                    "Zone",
                    "Limit discovery to one zone",
                    false,
                    "europe-west1-b",
                ),
                (
                    "gcs_bucket",
                    "GCS bucket",
                    "Bucket used to stage image exports",
                    false,
                    "",
                ),
            ],
        },
        ProviderKind::Hyperv => KindSpec {
            display_name: "Microsoft Hyper-V",
            default_port: 5986,
            endpoint_hint: "https://hyperv01.example.com:5986",
            username_label: "Username (DOMAIN\\user)",
            secret_label: "Password",
            options: &[],
        },
        ProviderKind::Proxmox => KindSpec {
            display_name: "Proxmox VE",
            default_port: 8006,
            endpoint_hint: "https://pve.example.com:8006",
            username_label: "User (root@pam, or user@realm!tokenid for an API token)",
            secret_label: "Password or API token secret",
            options: &[("node", "Node", "Limit discovery to one node", false, "pve1")],
        },
    }
}

pub fn display_name(kind: ProviderKind) -> &'static str {
    spec(kind).display_name
}

pub fn default_port(kind: ProviderKind) -> u16 {
    spec(kind).default_port
}

/// The option keys a kind accepts, and whether each is required.
pub fn option_keys(kind: ProviderKind) -> impl Iterator<Item = (&'static str, bool)> {
    spec(kind)
        .options
        .iter()
        .map(|(key, _, _, required, _)| (*key, *required))
}

pub fn info(kind: ProviderKind, discovery_available: bool) -> ProviderKindInfo {
    let s = spec(kind);
    ProviderKindInfo {
        kind,
        display_name: s.display_name.into(),
        default_port: s.default_port,
        endpoint_hint: s.endpoint_hint.into(),
        username_label: s.username_label.into(),
        secret_label: s.secret_label.into(),
        options: s
            .options
            .iter()
            .map(|(key, label, help, required, placeholder)| FieldSpec {
                key: (*key).into(),
                label: (*label).into(),
                help: (*help).into(),
                required: *required,
                placeholder: (*placeholder).into(),
            })
            .collect(),
        discovery_available,
    }
}
