//! `hyperctl vms`: browse a connection's virtual machines.

use clap::Subcommand;
use hypersdk_core::model::{PowerState, VmFilter, VmInfo};
use hypersdk_core::{ApiError, Core};

use crate::output;

#[derive(Debug, Subcommand)]
pub enum VmsCommand {
    /// List the VMs of a connection (every page), sorted by inventory path.
    #[command(alias = "ls")]
    List {
        /// Connection name or id.
        #[arg(long)]
        connection: String,
        /// Only VMs whose name or path contains this text (case-insensitive).
        #[arg(long)]
        filter: Option<String>,
    },
}

pub async fn run(core: &Core, cmd: VmsCommand, json: bool) -> Result<(), ApiError> {
    match cmd {
        VmsCommand::List { connection, filter } => {
            let filter = VmFilter {
                text: filter,
                power_state: None,
            };
            let vms = core.list_vms_with_details(&connection, filter).await?;
            if json {
                // Each object: id, name, path, power_state, guest_os, cpus,
                // memory_mib, disks, nics, template, tools_status and the
                // datacenter/cluster/host/resource_pool facets (the core's VmInfo).
                output::json(&vms)
            } else {
                print_table(&vms);
                Ok(())
            }
        }
    }
}

fn power(p: PowerState) -> &'static str {
    match p {
        PowerState::PoweredOn => "on",
        PowerState::PoweredOff => "off",
        PowerState::Suspended => "suspended",
        PowerState::Unknown => "unknown",
    }
}

fn print_table(vms: &[VmInfo]) {
    if vms.is_empty() {
        println!("No VMs found.");
        return;
    }
    let rows: Vec<Vec<String>> = vms
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                power(v.power_state).to_owned(),
                v.cpus.to_string(),
                output::bytes(v.memory_mib.saturating_mul(1024 * 1024)),
                v.disks.to_string(),
                v.disk_capacity_bytes
                    .map(output::bytes)
                    .unwrap_or_else(|| "-".into()),
                v.disk_used_bytes
                    .map(output::bytes)
                    .unwrap_or_else(|| "-".into()),
                if v.storage.is_empty() {
                    "-".into()
                } else {
                    v.storage.join(",")
                },
                v.nics.to_string(),
                v.guest_os.clone(),
                v.path.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME", "POWER", "CPUS", "MEMORY", "DISKS", "SIZE", "USED", "STORAGE", "NICS",
            "GUEST OS", "PATH",
        ],
        &rows,
    );
    println!("{} VM(s)", vms.len());
}
