//! What each platform's connection form asks for.

use crate::error::{CoreError, Result};
use crate::model::{ExportOptionSpec, FieldSpec, ProviderKind, ProviderKindInfo};

struct KindSpec {
    display_name: &'static str,
    default_port: u16,
    endpoint_hint: &'static str,
    /// `None`: the endpoint is required. `Some(help)`: it may be left empty
    /// (a cloud with its own endpoints), and the help says what empty means.
    endpoint_optional: Option<&'static str>,
    /// `None`: the username is required. `Some(help)`: it may be left empty
    /// (credentials found another way), and the help says how.
    username_optional: Option<&'static str>,
    username_label: &'static str,
    secret_label: &'static str,
    /// (key, label, help, required, placeholder)
    options: &'static [(&'static str, &'static str, &'static str, bool, &'static str)],
    /// Options kept in the keyring: (key, label, help, multiline).
    secret_options: &'static [(&'static str, &'static str, &'static str, bool)],
    /// The platform's own backup archive an export can keep instead of an OVA
    /// (`PackageKind::Native`), as the export dialog names it.
    native_archive: Option<&'static str>,
    /// Choices for each export: (key, label, help, (value, label) choices, the first the default).
    export_options: &'static [ExportOption],
}

type ExportOption = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn spec(kind: ProviderKind) -> KindSpec {
    match kind {
        ProviderKind::Vsphere => KindSpec {
            display_name: "VMware vSphere",
            native_archive: None,
            export_options: &[],
            default_port: 443,
            endpoint_hint: "vcenter.example.com",
            endpoint_optional: None,
            username_optional: None,
            username_label: "Username",
            secret_label: "Password",
            secret_options: &[],
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
            native_archive: None,
            export_options: &[],
            secret_options: &[(
                "session_token",
                "Session token",
                "Only for temporary credentials (an assumed role, MFA): the token that goes with the key",
                false,
            )],
            default_port: 443,
            endpoint_hint: "https://vpce-….ec2.us-east-1.vpce.amazonaws.com",
            endpoint_optional: Some(
                "Empty: AWS's own endpoint in each region; set for a VPC endpoint or a local test server",
            ),
            username_optional: Some(
                "Empty: your AWS profile's credentials (the standard chain: environment, ~/.aws, SSO)",
            ),
            username_label: "Access key ID",
            secret_label: "Secret access key",
            options: &[
                (
                    "regions",
                    "Regions",
                    "The regions to browse, comma-separated; empty: every region enabled for the account",
                    false,
                    "us-east-1, eu-west-1",
                ),
                (
                    "profile",
                    "AWS profile",
                    "With no access key: the profile of ~/.aws/config to use; empty: the default chain",
                    false,
                    "default",
                ),
            ],
        },
        ProviderKind::Azure => KindSpec {
            display_name: "Microsoft Azure",
            native_archive: None,
            export_options: &[],
            secret_options: &[],
            default_port: 443,
            endpoint_hint: "https://management.azure.com",
            endpoint_optional: None,
            username_optional: None,
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
            native_archive: None,
            export_options: &[],
            secret_options: &[],
            default_port: 443,
            endpoint_hint: "https://compute.googleapis.com",
            endpoint_optional: None,
            username_optional: None,
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
            native_archive: None,
            export_options: &[],
            secret_options: &[],
            default_port: 5986,
            endpoint_hint: "https://hyperv01.example.com:5986",
            endpoint_optional: None,
            username_optional: None,
            username_label: "Username (DOMAIN\\user)",
            secret_label: "Password",
            options: &[],
        },
        ProviderKind::Proxmox => KindSpec {
            display_name: "Proxmox VE",
            native_archive: Some("Proxmox backup (.vma.zst, restores with qmrestore)"),
            export_options: &[(
                "mode",
                "Backup mode",
                "How vzdump keeps the guest consistent while it reads it",
                &[
                    ("snapshot", "Snapshot (the VM keeps running)"),
                    ("suspend", "Suspend (paused while the backup starts)"),
                    (
                        "stop",
                        "Stop (shut down for the backup, started again after)",
                    ),
                ],
            )],
            default_port: 8006,
            endpoint_hint: "https://pve.example.com:8006",
            endpoint_optional: None,
            username_optional: None,
            username_label: "User (root@pam, or user@realm!tokenid for an API token)",
            secret_label: "Password or API token secret",
            options: &[
                ("node", "Node", "Limit discovery to one node", false, "pve1"),
                (
                    "ssh_host",
                    "SSH host",
                    "Where vzdump runs over SSH (the data path); empty: each VM's node, at the address the cluster reports for it",
                    false,
                    "pve1.example.com",
                ),
                ("ssh_port", "SSH port", "Empty: 22", false, "22"),
                (
                    "ssh_user",
                    "SSH user",
                    "A user allowed to run vzdump --stdout (root, or sudo); empty: root",
                    false,
                    "root",
                ),
                (
                    "ssh_host_keys",
                    "SSH host keys",
                    "SHA-256 fingerprints of the nodes' SSH host keys, comma-separated (as ssh-keygen -l prints them); the connection test shows a node's key to pin",
                    false,
                    "SHA256:…",
                ),
                (
                    "backup_storage",
                    "Backup storage",
                    "Only for an SSH user other than root (vzdump --stdout is root's): the export backs up into this storage through the API, then reads the file over SFTP; empty: local",
                    false,
                    "local",
                ),
                (
                    "backup_remove",
                    "Remove that backup",
                    "yes (default): the backup file is removed from the storage once read; no: it stays",
                    false,
                    "yes",
                ),
            ],
            secret_options: &[
                (
                    "ssh_key",
                    "SSH private key",
                    "The OpenSSH private key of the SSH user (kept in the keyring)",
                    true,
                ),
                (
                    "ssh_key_passphrase",
                    "SSH key passphrase",
                    "Only for a key protected by a passphrase",
                    false,
                ),
                ("ssh_password", "SSH password", "Instead of a key", false),
            ],
        },
    }
}

/// Checks an export's platform options against what the kind offers: known
/// keys, one of their choices.
pub fn check_export_options(
    kind: ProviderKind,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let spec = spec(kind);
    for (key, value) in options {
        let Some((_, label, _, choices)) = spec.export_options.iter().find(|o| o.0 == key) else {
            return Err(CoreError::invalid(
                "export_options",
                format!(
                    "{} exports have no option \"{key}\"{}",
                    spec.display_name,
                    match spec.export_options.iter().map(|o| o.0).collect::<Vec<_>>() {
                        keys if keys.is_empty() => String::new(),
                        keys => format!(" (they have: {})", keys.join(", ")),
                    }
                ),
            ));
        };
        if !choices.iter().any(|(v, _)| v == value) {
            return Err(CoreError::invalid(
                "export_options",
                format!(
                    "{label} \"{value}\" is not one of {}",
                    choices
                        .iter()
                        .map(|(v, _)| *v)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

pub fn display_name(kind: ProviderKind) -> &'static str {
    spec(kind).display_name
}

pub fn default_port(kind: ProviderKind) -> u16 {
    spec(kind).default_port
}

/// The secret option keys a kind accepts.
pub fn secret_option_keys(kind: ProviderKind) -> impl Iterator<Item = &'static str> {
    spec(kind).secret_options.iter().map(|(key, ..)| *key)
}

/// The option keys a kind accepts, and whether each is required.
pub fn option_keys(kind: ProviderKind) -> impl Iterator<Item = (&'static str, bool)> {
    spec(kind)
        .options
        .iter()
        .map(|(key, _, _, required, _)| (*key, *required))
}

/// Whether a connection of this kind may leave its endpoint empty.
pub fn endpoint_optional(kind: ProviderKind) -> bool {
    spec(kind).endpoint_optional.is_some()
}

/// Whether a connection of this kind may leave its username empty.
pub fn username_optional(kind: ProviderKind) -> bool {
    spec(kind).username_optional.is_some()
}

pub fn info(kind: ProviderKind, discovery_available: bool) -> ProviderKindInfo {
    let s = spec(kind);
    ProviderKindInfo {
        kind,
        display_name: s.display_name.into(),
        default_port: s.default_port,
        endpoint_hint: s.endpoint_hint.into(),
        endpoint_optional: s.endpoint_optional.map(String::from),
        username_optional: s.username_optional.map(String::from),
        username_label: s.username_label.into(),
        secret_label: s.secret_label.into(),
        native_archive: s.native_archive.map(String::from),
        export_options: s
            .export_options
            .iter()
            .map(|(key, label, help, choices)| ExportOptionSpec {
                key: (*key).into(),
                label: (*label).into(),
                help: (*help).into(),
                choices: choices
                    .iter()
                    .map(|(v, l)| ((*v).into(), (*l).into()))
                    .collect(),
            })
            .collect(),
        options: s
            .options
            .iter()
            .map(|(key, label, help, required, placeholder)| FieldSpec {
                key: (*key).into(),
                label: (*label).into(),
                help: (*help).into(),
                required: *required,
                placeholder: (*placeholder).into(),
                secret: false,
                multiline: false,
            })
            .chain(
                s.secret_options
                    .iter()
                    .map(|(key, label, help, multiline)| FieldSpec {
                        key: (*key).into(),
                        label: (*label).into(),
                        help: (*help).into(),
                        required: false,
                        placeholder: String::new(),
                        secret: true,
                        multiline: *multiline,
                    }),
            )
            .collect(),
        discovery_available,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_options_are_the_kinds_own_and_one_of_their_choices() {
        let opts =
            |k: &str, v: &str| std::collections::BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(check_export_options(ProviderKind::Proxmox, &opts("mode", "stop")).is_ok());
        assert!(check_export_options(ProviderKind::Proxmox, &Default::default()).is_ok());
        let err = check_export_options(ProviderKind::Proxmox, &opts("mode", "reboot"))
            .expect_err("reboot");
        assert_eq!(err.code(), "invalid_export_option");
        assert!(err.to_string().contains("snapshot, suspend, stop"), "{err}");
        let err = check_export_options(ProviderKind::Vsphere, &opts("mode", "stop"))
            .expect_err("vsphere");
        assert!(
            err.to_string()
                .contains("VMware vSphere exports have no option"),
            "{err}"
        );
        let info = info(ProviderKind::Proxmox, true);
        assert_eq!(
            info.export_options[0].choices[0].0, "snapshot",
            "the default comes first"
        );
    }
}
