//! Discovery: the regions to browse (`DescribeRegions` unless the connection
//! names them), then in every region at once its instances
//! (`DescribeInstances`, paged), their types' CPUs and memory
//! (`DescribeInstanceTypes`, once per type) and their volumes' sizes and
//! types (`DescribeVolumes`, paged). A region that refuses (not enabled for
//! the account, denied by a policy) is reported on its own; the others list.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ec2::types::{Filter, Instance, InstanceStateName, InstanceType};
use futures_util::future::join_all;
use hypersdk_core::model::{PowerState, VmInfo};

use crate::client::Clients;
use crate::error::{AwsError, Result};

/// `DescribeInstances` page size (AWS's maximum).
const INSTANCES_PER_PAGE: i32 = 1000;
/// `DescribeVolumes` page size (AWS's maximum).
const VOLUMES_PER_PAGE: i32 = 500;
/// `DescribeInstanceTypes` takes at most 100 types per call.
const TYPES_PER_CALL: usize = 100;
/// Values of one `DescribeVolumes` filter (EC2 allows 200).
const FILTER_VALUES: usize = 200;

/// Why instances cannot be exported yet: said on every row, so the window
/// does not offer a drag that fails.
pub const EXPORT_NOT_YET: &str = "exporting EC2 instances (through EBS snapshots) is not available in this version yet; \
     browsing is";

/// Every instance of the regions browsed, and how each region answered.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Sorted by (path, id).
    pub vms: Vec<VmInfo>,
    pub regions: Vec<RegionReport>,
}

#[derive(Debug, Clone)]
pub struct RegionReport {
    pub region: String,
    pub instances: usize,
    /// What the region answered instead of its instances.
    pub error: Option<AwsErrorSummary>,
}

/// A region's failure, kept as text (errors are not `Clone`) with its code.
#[derive(Debug, Clone)]
pub struct AwsErrorSummary {
    pub code: &'static str,
    pub message: String,
}

impl Inventory {
    /// The first region's error when no region answered: the listing as a
    /// whole failed (wrong keys fail everywhere alike).
    pub fn all_failed(&self) -> Option<&AwsErrorSummary> {
        if self.regions.iter().all(|r| r.error.is_some()) {
            self.regions.first().and_then(|r| r.error.as_ref())
        } else {
            None
        }
    }
}

/// The regions to browse: the connection's, else every region enabled for
/// the account.
pub async fn regions(clients: &Clients, configured: &[String]) -> Result<Vec<String>> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let home = clients.home_region();
    let answer = clients
        .ec2(&home)
        .describe_regions()
        .send()
        .await
        .map_err(|e| {
            AwsError::from_sdk(e, "DescribeRegions", &home, &clients.endpoint_for(&home))
        })?;
    let mut names: Vec<String> = answer
        .regions()
        .iter()
        .filter_map(|r| r.region_name().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

pub async fn discover(clients: &Clients, configured: &[String]) -> Result<Inventory> {
    let regions = regions(clients, configured).await?;
    let answers = join_all(regions.iter().map(|region| region_vms(clients, region))).await;
    let mut inventory = Inventory::default();
    for (region, answer) in regions.into_iter().zip(answers) {
        match answer {
            Ok(vms) => {
                inventory.regions.push(RegionReport {
                    region,
                    instances: vms.len(),
                    error: None,
                });
                inventory.vms.extend(vms);
            }
            Err(e) => {
                tracing::warn!(%region, code = e.code(), error = %e, "an AWS region could not be listed");
                inventory.regions.push(RegionReport {
                    region,
                    instances: 0,
                    error: Some(AwsErrorSummary {
                        code: e.code(),
                        message: e.to_string(),
                    }),
                });
            }
        }
    }
    inventory
        .vms
        .sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.id.cmp(&b.id)));
    Ok(inventory)
}

/// One region's instances as rows.
pub async fn region_vms(clients: &Clients, region: &str) -> Result<Vec<VmInfo>> {
    let ec2 = clients.ec2(region);
    let endpoint = clients.endpoint_for(region);
    // The volumes do not depend on the instances: listed side by side.
    let (instances, volumes) = tokio::try_join!(
        instances(&ec2, region, &endpoint, &[]),
        volumes(&ec2, region, &endpoint, &[]),
    )?;
    let types = instance_types(&ec2, region, &endpoint, &instances).await?;
    Ok(rows(region, &instances, &types, &volumes))
}

/// Rows for a few `instances` of `region` (what get_vm found), with their
/// types and only their volumes read.
pub async fn describe_rows(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    endpoint: &str,
    instances: &[Instance],
) -> Result<Vec<VmInfo>> {
    if instances.is_empty() {
        return Ok(Vec::new());
    }
    // More than one filter holds: every attached volume of the region instead.
    let only: Vec<String> = if instances.len() <= FILTER_VALUES {
        instances
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect()
    } else {
        Vec::new()
    };
    let (types, volumes) = tokio::try_join!(
        instance_types(ec2, region, endpoint, instances),
        volumes(ec2, region, endpoint, &only),
    )?;
    Ok(rows(region, instances, &types, &volumes))
}

/// `DescribeInstances` in `region`, every page; `ids` narrows it to those
/// instances. Terminated instances (still listed for about an hour) are left
/// out: nothing of them is left to export.
pub async fn instances(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    endpoint: &str,
    ids: &[String],
) -> Result<Vec<Instance>> {
    let mut request = ec2.describe_instances();
    if ids.is_empty() {
        request = request.max_results(INSTANCES_PER_PAGE);
    } else {
        // AWS refuses MaxResults together with InstanceIds.
        request = request.set_instance_ids(Some(ids.to_vec()));
    }
    let mut pages = request.into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::from_sdk(e, "DescribeInstances", region, endpoint))?;
        for reservation in page.reservations() {
            out.extend(
                reservation
                    .instances()
                    .iter()
                    .filter(|i| {
                        i.state().and_then(|s| s.name()) != Some(&InstanceStateName::Terminated)
                    })
                    .cloned(),
            );
        }
    }
    Ok(out)
}

/// What one instance type offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeInfo {
    pub vcpus: u32,
    pub memory_mib: u64,
}

async fn instance_types(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    endpoint: &str,
    instances: &[Instance],
) -> Result<HashMap<String, TypeInfo>> {
    let wanted: BTreeSet<&str> = instances
        .iter()
        .filter_map(|i| i.instance_type().map(InstanceType::as_str))
        .collect();
    let wanted: Vec<&str> = wanted.into_iter().collect();
    let mut out = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(TYPES_PER_CALL) {
        let mut pages = ec2
            .describe_instance_types()
            .set_instance_types(Some(chunk.iter().map(|t| InstanceType::from(*t)).collect()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk(e, "DescribeInstanceTypes", region, endpoint))?;
            for t in page.instance_types() {
                let Some(name) = t.instance_type() else {
                    continue;
                };
                out.insert(
                    name.as_str().to_owned(),
                    TypeInfo {
                        vcpus: t
                            .v_cpu_info()
                            .and_then(|v| v.default_v_cpus())
                            .map_or(0, |v| v.max(0) as u32),
                        memory_mib: t
                            .memory_info()
                            .and_then(|m| m.size_in_mib())
                            .map_or(0, |m| m.max(0) as u64),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// One EBS volume's size and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub size_bytes: u64,
    pub volume_type: Option<String>,
}

/// The attached volumes of the region, or of the instances in `only`.
async fn volumes(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    endpoint: &str,
    only: &[String],
) -> Result<HashMap<String, VolumeInfo>> {
    let filter = if only.is_empty() {
        Filter::builder()
            .name("attachment.status")
            .values("attached")
    } else {
        Filter::builder()
            .name("attachment.instance-id")
            .set_values(Some(only.to_vec()))
    };
    let mut pages = ec2
        .describe_volumes()
        .filters(filter.build())
        .max_results(VOLUMES_PER_PAGE)
        .into_paginator()
        .send();
    let mut out = HashMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(e, "DescribeVolumes", region, endpoint))?;
        for v in page.volumes() {
            let Some(id) = v.volume_id() else {
                continue;
            };
            out.insert(
                id.to_owned(),
                VolumeInfo {
                    size_bytes: v.size().map_or(0, |g| (g.max(0) as u64) << 30),
                    volume_type: v.volume_type().map(|t| t.as_str().to_owned()),
                },
            );
        }
    }
    Ok(out)
}

/// Path segments must not contain `/` (it separates the tree's levels).
fn clean(s: &str) -> String {
    s.replace('/', "∕")
}

/// The `Name` tag, the name the EC2 console shows.
fn name_tag(i: &Instance) -> Option<&str> {
    i.tags()
        .iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

/// Rows for one region's instances. Paths are
/// `/<region>/<VPC>/<availability zone>/<name>`: the tree's levels. Two
/// instances with the same name in one zone get their ids in their names,
/// so every path names one instance (schedules select by path).
pub fn rows(
    region: &str,
    instances: &[Instance],
    types: &HashMap<String, TypeInfo>,
    volumes: &HashMap<String, VolumeInfo>,
) -> Vec<VmInfo> {
    let place = |i: &Instance| {
        (
            i.vpc_id().unwrap_or("no VPC").to_owned(),
            i.placement()
                .and_then(|p| p.availability_zone())
                .unwrap_or("no zone")
                .to_owned(),
        )
    };
    let mut seen: HashMap<(String, String, &str), usize> = HashMap::new();
    for i in instances {
        let (vpc, zone) = place(i);
        let name = name_tag(i).unwrap_or_else(|| i.instance_id().unwrap_or_default());
        *seen.entry((vpc, zone, name)).or_default() += 1;
    }
    instances
        .iter()
        .filter_map(|i| {
            let id = i.instance_id()?.to_owned();
            let (vpc, zone) = place(i);
            let base = name_tag(i).unwrap_or(&id);
            let twins = seen.get(&(vpc.clone(), zone.clone(), base)).copied().unwrap_or(1);
            let name = if twins > 1 && base != id {
                format!("{base} ({id})")
            } else {
                base.to_owned()
            };
            let kind = i.instance_type().map(|t| t.as_str().to_owned());
            let type_info = kind.as_deref().and_then(|k| types.get(k)).copied();
            let ebs: Vec<&str> = i
                .block_device_mappings()
                .iter()
                .filter_map(|m| m.ebs().and_then(|e| e.volume_id()))
                .collect();
            let sizes: Option<u64> = ebs
                .iter()
                .map(|v| volumes.get(*v).map(|i| i.size_bytes))
                .sum();
            let storage: BTreeSet<String> = ebs
                .iter()
                .filter_map(|v| volumes.get(*v).and_then(|i| i.volume_type.clone()))
                .collect();
            let cpus = i
                .cpu_options()
                .and_then(|c| Some(c.core_count()? * c.threads_per_core().unwrap_or(1)))
                .map(|c| c.max(0) as u32)
                .or(type_info.map(|t| t.vcpus))
                .unwrap_or(0);
            let mut tags: Vec<String> = i
                .tags()
                .iter()
                .filter(|t| t.key() != Some("Name"))
                .filter_map(|t| Some(format!("{}={}", t.key()?, t.value().unwrap_or_default())))
                .collect();
            tags.sort();
            tags.dedup();
            let instance_store = i
                .root_device_type()
                .is_some_and(|d| d.as_str() == "instance-store");
            Some(VmInfo {
                path: format!("/{region}/{}/{}/{}", clean(&vpc), clean(&zone), clean(&name)),
                id,
                name,
                power_state: match i.state().and_then(|s| s.name()) {
                    Some(InstanceStateName::Running) => PowerState::PoweredOn,
                    Some(InstanceStateName::Stopped) => PowerState::PoweredOff,
                    _ => PowerState::Unknown,
                },
                guest_os: i
                    .platform_details()
                    .map(str::to_owned)
                    .or_else(|| i.platform().map(|p| p.as_str().to_owned()))
                    .unwrap_or_default(),
                cpus,
                memory_mib: type_info.map_or(0, |t| t.memory_mib),
                disks: ebs.len() as u32,
                disk_capacity_bytes: sizes.filter(|s| *s > 0),
                // EBS does not say how much of a volume is written.
                disk_used_bytes: None,
                storage: storage.into_iter().collect(),
                nics: i.network_interfaces().len() as u32,
                template: false,
                tools_status: None,
                datacenter: Some(region.to_owned()),
                cluster: None,
                host: None,
                resource_pool: None,
                tags,
                not_exportable: Some(if instance_store {
                    "an instance-store root volume cannot be snapshotted, so this instance cannot be exported".to_owned()
                } else {
                    EXPORT_NOT_YET.to_owned()
                }),
                details_pending: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{
        EbsInstanceBlockDevice, InstanceBlockDeviceMapping, InstanceState, Placement, Tag,
    };

    fn instance(id: &str, name: Option<&str>, zone: &str, volumes: &[&str]) -> Instance {
        let mut b = Instance::builder()
            .instance_id(id)
            .instance_type(InstanceType::from("t3.large"))
            .vpc_id("vpc-1")
            .placement(Placement::builder().availability_zone(zone).build())
            .state(
                InstanceState::builder()
                    .name(InstanceStateName::Running)
                    .build(),
            )
            .platform_details("Linux/UNIX")
            .tags(Tag::builder().key("env").value("prod").build());
        if let Some(n) = name {
            b = b.tags(Tag::builder().key("Name").value(n).build());
        }
        for v in volumes {
            b = b.block_device_mappings(
                InstanceBlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(EbsInstanceBlockDevice::builder().volume_id(*v).build())
                    .build(),
            );
        }
        b.build()
    }

    #[test]
    fn rows_carry_type_volumes_tags_and_unique_paths() {
        let types = HashMap::from([(
            "t3.large".to_owned(),
            TypeInfo {
                vcpus: 2,
                memory_mib: 8192,
            },
        )]);
        let volumes = HashMap::from([
            (
                "vol-a".to_owned(),
                VolumeInfo {
                    size_bytes: 8 << 30,
                    volume_type: Some("gp3".into()),
                },
            ),
            (
                "vol-b".to_owned(),
                VolumeInfo {
                    size_bytes: 100 << 30,
                    volume_type: Some("io2".into()),
                },
            ),
        ]);
        let instances = [
            instance("i-1", Some("web"), "eu-west-1a", &["vol-a", "vol-b"]),
            instance("i-2", Some("web"), "eu-west-1a", &[]),
            instance("i-3", None, "eu-west-1b", &["vol-a"]),
        ];
        let rows = rows("eu-west-1", &instances, &types, &volumes);
        let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/eu-west-1/vpc-1/eu-west-1a/web (i-1)",
                "/eu-west-1/vpc-1/eu-west-1a/web (i-2)",
                "/eu-west-1/vpc-1/eu-west-1b/i-3",
            ]
        );
        let web = &rows[0];
        assert_eq!((web.cpus, web.memory_mib, web.disks), (2, 8192, 2));
        assert_eq!(web.disk_capacity_bytes, Some(108 << 30));
        assert_eq!(web.storage, ["gp3", "io2"]);
        assert_eq!(web.tags, ["env=prod"], "Name is the name, not a tag");
        assert_eq!(web.power_state, PowerState::PoweredOn);
        assert_eq!(web.datacenter.as_deref(), Some("eu-west-1"));
        assert_eq!(
            rows[1].disk_capacity_bytes, None,
            "no volumes: unknown, not 0"
        );
        assert_eq!(rows[2].name, "i-3", "no Name tag: the id");
    }
}
