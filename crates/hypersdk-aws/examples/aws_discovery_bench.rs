//! AWS discovery benchmark (issue 14, "Measure"): moto holding INSTANCES instances in one region
//! (seeded 500 per RunInstances call, with a few instance types), timed RUNS times each way,
//! interleaved:
//!   raw   a paginated `DescribeInstances` loop (pages of 1,000) through the same SDK client
//!         configuration, answers parsed by the SDK and dropped: the floor for "the instance list"
//!   ours  `inventory::discover`: the same listing plus `DescribeInstanceTypes` for the types seen
//!         and the attached volumes (`DescribeVolumes`), joined into rows
//! Prints a Markdown table of medians. Run through `bench/aws-discovery.sh`.

#[path = "../tests/support/moto.rs"]
mod moto;

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceType;
use hypersdk_aws::client::Clients;
use hypersdk_aws::inventory;
use hypersdk_aws::settings::{AwsSettings, Credentials};
use hypersdk_core::model::Secret;

const REGION: &str = "us-east-1";
const TYPES: [&str; 4] = ["t3.micro", "t3.large", "m5.xlarge", "c5.2xlarge"];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let instances = arg(1, 5000);
    let runs = arg(2, 5).max(1);
    let m = moto::Moto::start();
    let seed = m.ec2(REGION).await;
    let started = Instant::now();
    let mut left = instances;
    let mut batch = 0;
    while left > 0 {
        let n = left.min(500);
        seed.run_instances()
            .image_id("ami-12c6146b")
            .instance_type(InstanceType::from(TYPES[batch % TYPES.len()]))
            .min_count(n as i32)
            .max_count(n as i32)
            .send()
            .await
            .expect("RunInstances");
        left -= n;
        batch += 1;
    }
    eprintln!(
        "seeded {instances} instances in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let clients = Clients::new(&AwsSettings {
        credentials: Credentials::Static {
            access_key_id: "testing".into(),
            secret_access_key: Secret::new("testing"),
            session_token: None,
        },
        regions: vec![REGION.into()],
        endpoint: Some(m.endpoint.clone()),
    })
    .await;
    let regions = vec![REGION.to_owned()];
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let mut pages = clients
            .ec2(REGION)
            .describe_instances()
            .max_results(1000)
            .into_paginator()
            .send();
        let mut seen = 0;
        while let Some(page) = pages.next().await {
            seen += page
                .expect("DescribeInstances")
                .reservations()
                .iter()
                .map(|r| r.instances().len())
                .sum::<usize>();
        }
        raw.push(t.elapsed());
        assert_eq!(seen, instances, "the raw loop saw every instance");

        let t = Instant::now();
        let inv = inventory::discover(&clients, &regions)
            .await
            .expect("discover");
        ours.push(t.elapsed());
        assert_eq!(inv.vms.len(), instances, "our discovery saw every instance");
    }
    let (raw, ours) = (median(raw), median(ours));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "Discovery of {instances} instances (moto, {REGION}; median of {runs}; load {})\n",
        load.split_whitespace().next().unwrap_or("?")
    );
    println!("| client | time | ratio |\n|---|---|---|");
    println!(
        "| raw paginated DescribeInstances loop (pages of 1,000) | {:.3} s | |",
        raw.as_secs_f64()
    );
    println!(
        "| **ours: instances + types + volumes, joined into rows** | {:.3} s | {:.2}× raw |",
        ours.as_secs_f64(),
        ours.as_secs_f64() / raw.as_secs_f64()
    );
    println!("\ntarget (issue 14): ours ≤ 1.2× the raw paginated DescribeInstances loop.");
}
