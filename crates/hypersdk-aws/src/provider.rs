//! The core's `Provider` and `ProviderFactory` for AWS EC2.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hypersdk_core::Result as CoreResult;
use hypersdk_core::model::{Connection, ProviderKind, Secrets, TestCheck, VmFilter, VmInfo};
use hypersdk_core::providers::{
    Capabilities, Provider, ProviderCache, ProviderFactory, VmPage, cancellable,
};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::client::Clients;
use crate::error::{AwsError, Result};
use crate::inventory::{self, Inventory};
use crate::settings::{AwsSettings, Credentials};

/// A cursor older than this re-reads the regions instead of paging a stale copy.
const SNAPSHOT_TTL: Duration = Duration::from_secs(10 * 60);

/// Keeps one provider per connection (its SDK configuration, read once, and
/// its last inventory), rebuilt when the connection or its secrets change.
#[derive(Default)]
pub struct AwsFactory {
    providers: ProviderCache<AwsProvider>,
}

impl std::fmt::Debug for AwsFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsFactory").finish_non_exhaustive()
    }
}

impl AwsFactory {
    /// The concrete provider, for callers that need more than the trait.
    pub fn connect_aws(
        &self,
        connection: &Connection,
        secrets: Secrets,
    ) -> CoreResult<Arc<AwsProvider>> {
        self.providers
            .get_or_connect(connection, secrets, |connection, secrets| {
                Ok(AwsProvider::new(AwsSettings::from_connection(
                    connection, secrets,
                )?))
            })
    }
}

#[async_trait]
impl ProviderFactory for AwsFactory {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Aws
    }

    fn connect(&self, connection: &Connection, secrets: Secrets) -> CoreResult<Arc<dyn Provider>> {
        let p: Arc<dyn Provider> = self.connect_aws(connection, secrets)?;
        Ok(p)
    }
}

/// One AWS connection.
pub struct AwsProvider {
    settings: AwsSettings,
    /// Built on first use: reading a profile's files is async.
    clients: OnceCell<Clients>,
    snapshot: Mutex<Option<(Instant, Arc<Inventory>)>>,
}

impl AwsProvider {
    pub fn new(settings: AwsSettings) -> AwsProvider {
        AwsProvider {
            settings,
            clients: OnceCell::new(),
            snapshot: Mutex::new(None),
        }
    }

    pub async fn clients(&self) -> &Clients {
        self.clients
            .get_or_init(|| Clients::new(&self.settings))
            .await
    }

    /// Every region's instances, read now and kept for paging.
    pub async fn refresh_inventory(&self) -> Result<Arc<Inventory>> {
        let started = Instant::now();
        let inv = inventory::discover(self.clients().await, &self.settings.regions).await?;
        if let Some(failed) = inv.all_failed() {
            // Every region failed alike (wrong keys, no network): that is the answer.
            return Err(self.region_error(&inv, failed.code, &failed.message));
        }
        tracing::info!(
            instances = inv.vms.len(),
            regions = inv.regions.len(),
            ms = started.elapsed().as_millis() as u64,
            "AWS inventory read"
        );
        let inv = Arc::new(inv);
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = Some((Instant::now(), Arc::clone(&inv)));
        }
        Ok(inv)
    }

    /// The error of a listing no region answered, by its code.
    fn region_error(&self, inv: &Inventory, code: &str, message: &str) -> AwsError {
        let regions = inv
            .regions
            .iter()
            .map(|r| r.region.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match code {
            "auth_failed" => AwsError::AuthFailed {
                detail: message.to_owned(),
            },
            "unreachable" => AwsError::Unreachable {
                endpoint: self
                    .settings
                    .endpoint
                    .clone()
                    .unwrap_or_else(|| "AWS".into()),
                detail: message.to_owned(),
            },
            _ => AwsError::Api {
                action: "DescribeInstances",
                region: regions,
                code: code.to_owned(),
                message: message.to_owned(),
            },
        }
    }

    fn cached_snapshot(&self) -> Option<Arc<Inventory>> {
        let slot = self.snapshot.lock().ok()?;
        let (at, inv) = slot.as_ref()?;
        (at.elapsed() < SNAPSHOT_TTL).then(|| Arc::clone(inv))
    }

    fn who(&self) -> String {
        match &self.settings.credentials {
            Credentials::Static { access_key_id, .. } => format!("access key {access_key_id}"),
            Credentials::Chain { profile: Some(p) } => format!("AWS profile \"{p}\""),
            Credentials::Chain { profile: None } => "the default AWS credential chain".into(),
        }
    }
}

#[async_trait]
impl Provider for AwsProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Aws
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            live_export: false,
            incremental: false,
            formats: Vec::new(),
        }
    }

    async fn validate(&self, cancel: &CancellationToken) -> CoreResult<Vec<TestCheck>> {
        let work = async {
            let clients = self.clients().await;
            let mut checks = Vec::with_capacity(2);
            // Who the credentials are: the one call every identity may make,
            // so wrong or expired keys fail here, before any listing.
            let home = clients.home_region();
            match clients.sts().get_caller_identity().send().await {
                Ok(me) => checks.push(TestCheck::passed(
                    "Sign in",
                    format!(
                        "signed with {} as {} (account {})",
                        self.who(),
                        me.arn().unwrap_or("?"),
                        me.account().unwrap_or("?")
                    ),
                )),
                Err(e) => {
                    let e = AwsError::from_sdk(
                        e,
                        "sts:GetCallerIdentity",
                        &home,
                        &clients.endpoint_for(&home),
                    );
                    checks.push(TestCheck::failed_with("Sign in", e.code(), e.to_string()));
                    checks.push(TestCheck::not_checked(
                        "Inventory readable",
                        "not signed in",
                    ));
                    return Ok(checks);
                }
            }
            checks.push(match self.refresh_inventory().await {
                Ok(inv) => {
                    let failed: Vec<String> = inv
                        .regions
                        .iter()
                        .filter_map(|r| {
                            r.error
                                .as_ref()
                                .map(|e| format!("{}: {}", r.region, e.message))
                        })
                        .collect();
                    let listed = inv.regions.iter().filter(|r| r.error.is_none()).count();
                    let summary = format!("{} instance(s) in {listed} region(s)", inv.vms.len());
                    if failed.is_empty() {
                        TestCheck::passed("Inventory readable", summary)
                    } else {
                        // Some regions listed: usable, and the others are said.
                        TestCheck::passed(
                            "Inventory readable",
                            format!("{summary}; not listed: {}", failed.join("; ")),
                        )
                    }
                }
                Err(e) => TestCheck::failed_with("Inventory readable", e.code(), e.to_string()),
            });
            Ok::<_, AwsError>(checks)
        };
        cancellable(cancel, work).await
    }

    async fn list_vms(
        &self,
        filter: &VmFilter,
        cursor: Option<String>,
        cancel: &CancellationToken,
    ) -> CoreResult<VmPage> {
        let inv = match (&cursor, self.cached_snapshot()) {
            (Some(_), Some(inv)) => inv,
            _ => cancellable(cancel, self.refresh_inventory()).await?,
        };
        VmPage::of_sorted(&inv.vms, filter, cursor.as_deref())
    }

    async fn get_vm(&self, id: &str, cancel: &CancellationToken) -> CoreResult<VmInfo> {
        let work = async {
            let wanted = id.trim();
            if !wanted.starts_with("i-") || !wanted[2..].chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(AwsError::NotFound {
                    what: "instance",
                    id: wanted.to_owned(),
                    context: " (EC2 instance ids look like i-0123456789abcdef0)".into(),
                });
            }
            let clients = self.clients().await;
            // The region it was last seen in first; else every region browsed.
            let known = self.cached_snapshot().and_then(|inv| {
                inv.vms
                    .iter()
                    .find(|v| v.id == wanted)
                    .and_then(|v| v.datacenter.clone())
            });
            let regions = match known {
                Some(r) => vec![r],
                None => inventory::regions(clients, &self.settings.regions).await?,
            };
            for region in &regions {
                let ec2 = clients.ec2(region);
                let endpoint = clients.endpoint_for(region);
                match inventory::instances(&ec2, region, &endpoint, &[wanted.to_owned()]).await {
                    Ok(found) if !found.is_empty() => {
                        let rows =
                            inventory::describe_rows(&ec2, region, &endpoint, &found).await?;
                        if let Some(vm) = rows.into_iter().find(|v| v.id == wanted) {
                            return Ok(vm);
                        }
                    }
                    // Not in this region (AWS says so with an error).
                    Ok(_) | Err(AwsError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(AwsError::NotFound {
                what: "instance",
                id: wanted.to_owned(),
                context: format!(" in {}", regions.join(", ")),
            })
        };
        cancellable(cancel, work).await
    }
}
