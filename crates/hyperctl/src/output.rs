//! Printing for people (aligned tables) and for scripts (`--json`).

use std::io::Write as _;

use serde::Serialize;

use hypersdk_core::ApiError;

pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), ApiError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ApiError {
        code: "internal".into(),
        message: format!("cannot encode output: {e}"),
        retryable: false,
    })?;
    print_line(&text);
    Ok(())
}

/// One compact JSON value per line, for streams a script reads as they come.
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> Result<(), ApiError> {
    let text = serde_json::to_string(value).map_err(|e| ApiError {
        code: "internal".into(),
        message: format!("cannot encode output: {e}"),
        retryable: false,
    })?;
    print_line(&text);
    Ok(())
}

/// `println!` panics when the reader has gone (`hyperctl … --json | head`);
/// a closed pipe only means nobody wants the rest.
fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    (*c).to_owned()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_are_human_sized() {
        assert_eq!(super::bytes(512), "512 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(4 * 1024 * 1024 * 1024), "4.0 GiB");
    }
}
