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
                serde_json::from_str(&json).map_err(|e| {
                    CoreError::Internal(format!("stored settings are unreadable: {e}"))
                })
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
