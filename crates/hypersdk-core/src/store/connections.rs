//! The `connections` table: everything about a connection but its secret.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use crate::error::{CoreError, Result};
use crate::model::{Connection, ProviderKind};

const COLUMNS: &str = "id, kind, name, endpoint, username, options_json, secret_ref, created_at, \
                       updated_at, tls_fingerprint, secret_options_json";

impl Store {
    pub fn list_connections(&self) -> Result<Vec<Connection>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM connections ORDER BY name COLLATE NOCASE"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        rows.map(|r| r?).collect()
    }

    /// Looks a connection up by id, or else by (case-insensitive) name, which
    /// is what people type in `hyperctl`.
    pub fn find_connection(&self, id_or_name: &str) -> Result<Option<Connection>> {
        let conn = self.lock()?;
        let found = conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM connections WHERE id = ?1 \
                     UNION ALL SELECT {COLUMNS} FROM connections WHERE name = ?1 LIMIT 1"
                ),
                [id_or_name],
                from_row,
            )
            .optional()?;
        found.transpose()
    }

    pub fn connection_name_taken(&self, name: &str, except_id: Option<&str>) -> Result<bool> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "SELECT 1 FROM connections WHERE name = ?1 AND id IS NOT ?2",
                params![name, except_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn connection_secret_ref(&self, id: &str) -> Result<Option<String>> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "SELECT secret_ref FROM connections WHERE id = ?1",
                [id],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Inserts the row, runs `before_commit` (the keyring write) inside the
    /// same transaction, and commits only if both succeeded — so a keyring
    /// failure leaves no half-made connection behind.
    pub fn insert_connection(
        &self,
        c: &Connection,
        secret_ref: Option<&str>,
        before_commit: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO connections ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                c.id,
                c.kind.as_str(),
                c.name,
                c.endpoint,
                c.username,
                options_json(&c.options)?,
                secret_ref,
                c.created_at,
                c.updated_at,
                c.tls_fingerprint,
                keys_json(&c.secret_options)?
            ],
        )
        .map_err(|e| name_conflict(e, &c.name))?;
        before_commit()?;
        tx.commit()?;
        Ok(())
    }

    /// Like [`Store::insert_connection`]: the keyring change in
    /// `before_commit` and the row change land together or not at all.
    pub fn update_connection(
        &self,
        c: &Connection,
        secret_ref: Option<&str>,
        before_commit: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let changed = tx
            .execute(
                "UPDATE connections SET kind = ?2, name = ?3, endpoint = ?4, username = ?5, \
                 options_json = ?6, secret_ref = ?7, updated_at = ?8, tls_fingerprint = ?9, \
                 secret_options_json = ?10 WHERE id = ?1",
                params![
                    c.id,
                    c.kind.as_str(),
                    c.name,
                    c.endpoint,
                    c.username,
                    options_json(&c.options)?,
                    secret_ref,
                    c.updated_at,
                    c.tls_fingerprint,
                    keys_json(&c.secret_options)?
                ],
            )
            .map_err(|e| name_conflict(e, &c.name))?;
        if changed == 0 {
            return Err(CoreError::NotFound {
                what: "connection",
                id: c.id.clone(),
            });
        }
        before_commit()?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes the row; `before_commit` removes the keyring entry. If that
    /// fails the row stays, so the user can retry instead of orphaning a secret.
    pub fn delete_connection(
        &self,
        id: &str,
        before_commit: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let changed = tx.execute("DELETE FROM connections WHERE id = ?1", [id])?;
        if changed == 0 {
            return Err(CoreError::NotFound {
                what: "connection",
                id: id.to_owned(),
            });
        }
        before_commit()?;
        tx.commit()?;
        Ok(())
    }
}

fn options_json(options: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(options).map_err(|e| CoreError::Internal(format!("options: {e}")))
}

fn keys_json(keys: &[String]) -> Result<String> {
    serde_json::to_string(keys).map_err(|e| CoreError::Internal(format!("secret options: {e}")))
}

fn name_conflict(err: rusqlite::Error, name: &str) -> CoreError {
    match err.sqlite_error() {
        Some(e) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
            CoreError::ConnectionNameTaken(name.to_owned())
        }
        _ => CoreError::Database(err),
    }
}

/// Rows are decoded in two steps so that a row this build cannot understand
/// (say, a kind added by a newer version) is a clear error, not a panic.
fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<Connection>> {
    let kind: String = row.get(1)?;
    let options: String = row.get(5)?;
    let secret_ref: Option<String> = row.get(6)?;
    let secret_options: String = row.get(10)?;
    let id: String = row.get(0)?;
    let decoded = (|| {
        let kind: ProviderKind = kind
            .parse()
            .map_err(|e: String| CoreError::Internal(format!("connection {id}: {e}")))?;
        let options: BTreeMap<String, String> = serde_json::from_str(&options)
            .map_err(|e| CoreError::Internal(format!("connection {id} options: {e}")))?;
        let secret_options: Vec<String> = serde_json::from_str(&secret_options)
            .map_err(|e| CoreError::Internal(format!("connection {id} secret options: {e}")))?;
        Ok((kind, options, secret_options))
    })();
    let (kind, options, secret_options) = match decoded {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Connection {
        id,
        kind,
        name: row.get(2)?,
        endpoint: row.get(3)?,
        username: row.get(4)?,
        options,
        has_secret: secret_ref.is_some(),
        secret_options,
        tls_fingerprint: row.get(9)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    }))
}
