//! Parse speed of one discovery page, without a server.
//!
//! Generates a `RetrievePropertiesEx` answer in vcsim's shape (the per-value
//! `_XMLSchema-instance` declarations, see `src/xml.rs`) for VMS virtual
//! machines (default 1,000 ≈ 2.4 MB, the properties discovery asks for by
//! default) and times the best of RUNS parses (default 30) of:
//! - **dom**: `xml::parse`, the namespace-aware tree of the whole envelope
//!   (what small answers still use);
//! - **page**: `soap::parse_retrieve_answer`, the page as discovery parses it
//!   (envelope, fault check, `RetrieveResult` with every `ObjectContent`).
//!
//! `cargo run --release -p hypersdk-vsphere --example page_parse_bench [VMS] [RUNS]`

use std::time::{Duration, Instant};

use hypersdk_vsphere::soap::parse_retrieve_answer;
use hypersdk_vsphere::xml;

const XSI: &str = "xmlns:_XMLSchema-instance=\"http://www.w3.org/2001/XMLSchema-instance\"";

fn val(xsi_type: &str, text: &str) -> String {
    format!("<val {XSI} _XMLSchema-instance:type=\"{xsi_type}\">{text}</val>")
}

fn moref(kind: &str, value: &str) -> String {
    format!(
        "<val type=\"{kind}\" {XSI} _XMLSchema-instance:type=\"ManagedObjectReference\">{value}</val>"
    )
}

/// One VM with every property of `inventory::VM_PATHS` plus name and parent.
fn vm(i: usize) -> String {
    let props: [(&str, String); 14] = [
        (
            "name",
            val("xsd:string", &format!("DC0_C{}_RP0_VM{i}", i % 10)),
        ),
        ("parent", moref("Folder", "group-4")),
        (
            "resourcePool",
            moref("ResourcePool", &format!("resgroup-{}", 30 + i % 10)),
        ),
        (
            "runtime.host",
            moref("HostSystem", &format!("host-{}", 40 + i % 10)),
        ),
        (
            "runtime.powerState",
            val("VirtualMachinePowerState", "poweredOn"),
        ),
        ("config.guestFullName", val("xsd:string", "otherGuest")),
        ("config.guestId", val("xsd:string", "otherGuest")),
        ("config.hardware.numCPU", val("xsd:int", "1")),
        ("config.hardware.memoryMB", val("xsd:int", "32")),
        ("config.template", val("xsd:boolean", "false")),
        (
            "guest.toolsRunningStatus",
            val("xsd:string", "guestToolsRunning"),
        ),
        ("summary.config.numVirtualDisks", val("xsd:int", "1")),
        ("summary.config.numEthernetCards", val("xsd:int", "1")),
        ("config.hardware.numCoresPerSocket", val("xsd:int", "1")),
    ];
    let mut out = format!("<objects><obj type=\"VirtualMachine\">vm-{i}</obj>");
    for (name, v) in props {
        out.push_str("<propSet><name>");
        out.push_str(name);
        out.push_str("</name>");
        out.push_str(&v);
        out.push_str("</propSet>");
    }
    out.push_str("</objects>");
    out
}

fn page(vms: usize) -> Vec<u8> {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" \
         xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>\
         <RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>\
         <token>ff8ee3d2-6fac-4e42-a537-13778f58323e</token>",
    );
    for i in 0..vms {
        out.push_str(&vm(i));
    }
    out.push_str("</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>");
    out.into_bytes()
}

/// The best of `runs`: on a shared machine the fastest run is the one least
/// disturbed by others (the result's drop is timed too: discovery pays it).
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let vms: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let runs: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(30)
        .max(1);
    let answer = page(vms);
    let parsed = parse_retrieve_answer("RetrievePropertiesEx", &answer).expect("page parses");
    assert_eq!(parsed.objects.len(), vms);
    let mb = answer.len() as f64 / 1e6;
    let report = |what: &str, t: Duration| {
        println!(
            "{what:5} {mb:.2} MB in {:6.2} ms = {:6.1} MB/s",
            t.as_secs_f64() * 1e3,
            mb / t.as_secs_f64()
        );
    };
    report("dom", time(runs, || xml::parse(&answer).expect("parses")));
    report(
        "page",
        time(runs, || {
            parse_retrieve_answer("RetrievePropertiesEx", &answer).expect("parses")
        }),
    );
}
