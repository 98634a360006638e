//! The process's own CPU and memory use, from `/proc/self` (Linux). On other
//! systems the readings are `None` and the charts say so.

use std::time::Instant;

/// `/proc` reports CPU times in USER_HZ ticks, which the kernel fixes at 100
/// for user space on every architecture we build for (x86_64, aarch64)
/// whatever its internal HZ — so no `sysconf` (and no `unsafe`) is needed.
const USER_HZ: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceSample {
    /// CPU time since the previous sample as a percentage of one core
    /// (200 % = two cores busy), like `top`. `None` on the first sample.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    /// CPU time used since the process started (user + system).
    pub cpu_seconds_total: Option<f64>,
}

/// Remembers the previous reading so each sample covers the time since.
#[derive(Debug, Default)]
pub struct ResourceSampler {
    last: Option<(Instant, f64)>,
}

impl ResourceSampler {
    pub fn sample(&mut self) -> ResourceSample {
        let now = Instant::now();
        let cpu = cpu_seconds();
        let cpu_percent = match (self.last, cpu) {
            (Some((t0, c0)), Some(c1)) => {
                let wall = now.duration_since(t0).as_secs_f64();
                (wall > 0.0).then(|| ((c1 - c0).max(0.0) / wall) * 100.0)
            }
            _ => None,
        };
        if let Some(c) = cpu {
            self.last = Some((now, c));
        }
        ResourceSample {
            cpu_percent,
            rss_bytes: rss_bytes(),
            cpu_seconds_total: cpu,
        }
    }
}

/// User + system CPU seconds of this process.
pub fn cpu_seconds() -> Option<f64> {
    parse_stat_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Resident memory of this process.
pub fn rss_bytes() -> Option<u64> {
    parse_status_rss(&std::fs::read_to_string("/proc/self/status").ok()?)
}

fn parse_stat_cpu(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may itself contain
    // spaces and parentheses: count fields from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

fn parse_status_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_an_awkward_name() {
        let stat =
            "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat_cpu(stat), Some(3.0));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn parses_vmrss() {
        let status = "Name:\tx\nVmPeak:\t  2000 kB\nVmRSS:\t  1500 kB\nThreads: 3\n";
        assert_eq!(parse_status_rss(status), Some(1500 * 1024));
        assert_eq!(parse_status_rss("Name: x\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn samples_this_process() {
        let mut sampler = ResourceSampler::default();
        let first = sampler.sample();
        assert!(first.cpu_percent.is_none(), "no previous reading");
        assert!(first.rss_bytes.is_some_and(|r| r > 1024 * 1024));
        // Burn a little CPU so the second reading has something to see.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = sampler.sample();
        assert!(second.cpu_percent.is_some_and(|c| c >= 0.0));
    }
}
