//! Saving what a chart shows (CSV or JSON the window produced) to the file
//! the user picked in the native save dialog.
//!
//! The window could call this with any path, so it only writes what a chart
//! export can be: an absolute path ending in `.csv` or `.json`, in an
//! existing folder, not over a directory, of a bounded size — written to a
//! temporary file beside it and renamed, so a failed write never leaves half
//! a file under the chosen name.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{CoreError, Result};

/// Far above any chart (30 days of minutes is ~3 MB of CSV).
pub const MAX_EXPORT_BYTES: usize = 64 * 1024 * 1024;

pub fn save_chart_export(path: &str, content: &str) -> Result<PathBuf> {
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return Err(CoreError::invalid("path", "Choose where to save the file"));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("csv" | "json")) {
        return Err(CoreError::invalid(
            "path",
            "Chart data is saved as a .csv or .json file",
        ));
    }
    if content.len() > MAX_EXPORT_BYTES {
        return Err(CoreError::invalid(
            "content",
            "The chart data is too large to save",
        ));
    }
    let parent = path
        .parent()
        .filter(|p| p.is_dir())
        .ok_or_else(|| CoreError::invalid("path", "The chosen folder does not exist"))?;
    if path.is_dir() {
        return Err(CoreError::invalid(
            "path",
            "A folder has that name; choose a file name",
        ));
    }
    write_atomically(parent, &path, content.as_bytes())?;
    Ok(path)
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.part", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(CoreError::io(format!("cannot save {}", path.display()), e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_csv_and_json_and_refuses_anything_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("throughput.csv");
        let saved = save_chart_export(&csv.display().to_string(), "t,value\n1,2\n").expect("save");
        assert_eq!(
            std::fs::read_to_string(saved).expect("read"),
            "t,value\n1,2\n"
        );
        let json = dir.path().join("stats.JSON");
        save_chart_export(&json.display().to_string(), "[]").expect("save json");

        let refuse = |p: String| save_chart_export(&p, "x").expect_err("refused").code();
        assert_eq!(refuse("relative.csv".into()), "invalid_input");
        assert_eq!(
            refuse(dir.path().join("evil.sh").display().to_string()),
            "invalid_input"
        );
        assert_eq!(
            refuse(dir.path().join("missing/x.csv").display().to_string()),
            "invalid_input"
        );
        std::fs::create_dir(dir.path().join("folder.csv")).expect("mkdir");
        assert_eq!(
            refuse(dir.path().join("folder.csv").display().to_string()),
            "invalid_input"
        );
        // Nothing but the two files was left behind.
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["folder.csv", "stats.JSON", "throughput.csv"]);
    }
}
