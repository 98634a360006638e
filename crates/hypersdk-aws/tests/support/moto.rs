//! Test peer: moto in server mode (PyPI, pinned in
//! `scripts/lib/peers-requirements.txt`) on a free loopback port, stopped
//! when the handle drops. Tests fail (they do not skip) when the venv is
//! missing, naming the script that makes it.
//!
//! Where moto differs from AWS, and what the tests do about it:
//! - it accepts any access key (no IAM unless asked), so wrong keys cannot be
//!   tested against it; `AwsError::from_code` is unit-tested instead;
//! - `RunInstances` takes any AMI id (AMI validation is off by default);
//! - its root volumes are 8 GiB gp2, created with the instance.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn moto_server() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/moto_server");
    assert!(
        path.is_file(),
        "{} is missing: these tests run against moto. Create the venv with \
         `bash scripts/lib/pypeers.sh` from the repository root, then run the tests again.",
        path.display()
    );
    path
}

pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("MOTO_STDERR").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port} within 30 s; run with MOTO_STDERR=1"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// An EC2 client of our own for `region`, to seed moto and to read it
    /// independently of the provider.
    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https(),
            )
            .load()
            .await;
        aws_sdk_ec2::Client::new(&config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
