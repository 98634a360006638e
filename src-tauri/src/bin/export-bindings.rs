//! Regenerates `ui/src/bindings.ts` from the Rust command and event types.

fn main() {
    use hypersdk_desktop_lib::bindings;
    if let Err(e) = bindings::builder().export(bindings::typescript(), bindings::BINDINGS_PATH) {
        eprintln!("export-bindings: {e}");
        std::process::exit(1);
    }
    println!("wrote {}", bindings::BINDINGS_PATH);
}
