//! The `settings` table: one JSON value per key, so adding a setting needs no
//! migration.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Store;
use crate::error::{CoreError, Result};
use crate::model::Settings;

const KEY: &str = "app";

impl Store {
    pub fn settings(&self) -> Result<Settings> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare("SELECT value_json FROM settings WHERE key = ?1")?;
        let mut rows = stmt.query([KEY])?;
        match rows.next()? {
            None => Ok(Settings::default()),
            Some(row) => {
                let json: String = row.get(0)?;
                let stored: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
                    CoreError::Internal(format!("stored settings are unreadable: {e}"))
                })?;
                with_defaults(stored)
            }
        }
    }

    pub fn put_settings(&self, settings: &Settings) -> Result<()> {
        let json = serde_json::to_string(settings)
            .map_err(|e| CoreError::Internal(format!("settings: {e}")))?;
        self.lock()?.execute(
            "INSERT INTO settings (key, value_json) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
            params![KEY, json],
        )?;
        Ok(())
    }

    /// A JSON value stored under `key`, or `T::default()` when there is none.
    pub fn setting<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        let json: Option<String> = self
            .lock()?
            .query_row(
                "SELECT value_json FROM settings WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        match json {
            None => Ok(T::default()),
            Some(j) => serde_json::from_str(&j).map_err(|e| {
                CoreError::Internal(format!("stored setting {key} is unreadable: {e}"))
            }),
        }
    }

    pub fn put_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value)
            .map_err(|e| CoreError::Internal(format!("setting {key}: {e}")))?;
        self.lock()?.execute(
            "INSERT INTO settings (key, value_json) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
            params![key, json],
        )?;
        Ok(())
    }
}

/// Settings saved by an older build lack the fields added since: they take
/// their defaults, so adding a setting needs neither a migration nor
/// `#[serde(default)]` on the IPC type (which would make it optional in
/// TypeScript).
fn with_defaults(stored: serde_json::Value) -> Result<Settings> {
    let mut merged = serde_json::to_value(Settings::default())
        .map_err(|e| CoreError::Internal(format!("settings: {e}")))?;
    if let (Some(base), serde_json::Value::Object(saved)) = (merged.as_object_mut(), stored) {
        base.extend(saved);
    }
    serde_json::from_value(merged)
        .map_err(|e| CoreError::Internal(format!("stored settings are unreadable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_an_older_build_get_defaults_for_new_fields() {
        let old = serde_json::json!({ "max_concurrent_jobs": 7, "max_jobs_per_connection": 3 });
        let s = with_defaults(old).expect("merge");
        assert_eq!(s.max_concurrent_jobs, 7);
        assert_eq!(s.max_jobs_per_connection, 3);
        assert!(!s.metrics_enabled);
        assert_eq!(s.metrics_listen, "127.0.0.1:9464");
    }
}
