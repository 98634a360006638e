//! `hyperctl connection`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};

use clap::{Args, Subcommand};
use hypersdk_core::model::{Connection, ConnectionInput, ProviderKind, Secret};
use hypersdk_core::{ApiError, Core, CoreError, kinds};

use crate::output;

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Save a connection; its password or key goes to the OS keyring.
    Add(AddArgs),
    /// Change a saved connection; unspecified fields keep their value.
    Edit(EditArgs),
    /// List saved connections.
    #[command(alias = "ls")]
    List,
    /// Show one connection.
    Show {
        /// Connection name or id.
        connection: String,
    },
    /// Check that the endpoint answers, the secret is in the keyring and sign-in works.
    Test {
        /// Connection name or id.
        connection: String,
    },
    /// Remove a connection and its keyring entry.
    #[command(alias = "rm")]
    Remove {
        /// Connection name or id.
        connection: String,
    },
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    /// Read the password (or key) from standard input instead of prompting.
    #[arg(long, conflicts_with = "no_password")]
    password_stdin: bool,
    /// Save the connection without a password.
    #[arg(long)]
    no_password: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// vsphere, aws, azure, gcp, hyperv or proxmox.
    #[arg(long)]
    kind: ProviderKind,
    /// A unique name to refer to the connection by.
    #[arg(long)]
    name: String,
    /// Host name or URL, e.g. vcenter.example.com or https://pve:8006 (AWS:
    /// empty for AWS's own endpoints).
    #[arg(long, default_value = "")]
    endpoint: String,
    /// The user name (AWS: the access key id; empty for your AWS profile).
    #[arg(long, default_value = "")]
    username: String,
    /// Provider option as KEY=VALUE (repeatable), e.g. --option regions=eu-west-1.
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_option)]
    options: Vec<(String, String)>,
    /// Trust exactly the server certificate with this SHA-256 fingerprint
    /// (as `connection test` prints it) instead of the system's CAs.
    #[arg(long, value_name = "SHA256HEX")]
    pin_fingerprint: Option<String>,
    /// A secret option read from a file into the keyring, as KEY=PATH
    /// (repeatable), e.g. --secret-file ssh_key=$HOME/.ssh/id_ed25519.
    #[arg(long = "secret-file", value_name = "KEY=PATH", value_parser = parse_option)]
    secret_files: Vec<(String, String)>,
    #[command(flatten)]
    secret: SecretArgs,
    /// Test the connection before saving it, and save nothing if a check
    /// fails (unless --save-anyway). The default on a terminal, where a
    /// failed test asks first; scripts opt in with this flag.
    #[arg(long, conflicts_with = "no_test")]
    test: bool,
    /// Save without testing first, even on a terminal.
    #[arg(long)]
    no_test: bool,
    /// Save even when the test before saving fails (a server that is down now).
    #[arg(long, conflicts_with = "no_test")]
    save_anyway: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Connection name or id.
    connection: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long)]
    username: Option<String>,
    /// Set a provider option as KEY=VALUE (repeatable; an empty VALUE clears it).
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_option)]
    options: Vec<(String, String)>,
    /// Trust exactly the server certificate with this SHA-256 fingerprint.
    #[arg(long, value_name = "SHA256HEX", conflicts_with = "unpin")]
    pin_fingerprint: Option<String>,
    /// Forget the pinned certificate and verify against the system's CAs again.
    #[arg(long)]
    unpin: bool,
    /// Read a new password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Prompt for a new password.
    #[arg(long, conflicts_with = "password_stdin")]
    password_prompt: bool,
    /// Set a secret option from a file, as KEY=PATH (repeatable).
    #[arg(long = "secret-file", value_name = "KEY=PATH", value_parser = parse_option)]
    secret_files: Vec<(String, String)>,
    /// Remove a saved secret option from the keyring (repeatable).
    #[arg(long = "clear-secret", value_name = "KEY")]
    clear_secrets: Vec<String>,
}

/// Secret options from files: a file, unlike an argument, is not visible to
/// other users through `ps` nor kept in shell history.
fn read_secret_files(files: Vec<(String, String)>) -> Result<BTreeMap<String, Secret>, ApiError> {
    let mut out = BTreeMap::new();
    for (key, path) in files {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ApiError::from(CoreError::io(
                format!("cannot read the secret option {key} from {path}"),
                e,
            ))
        })?;
        out.insert(key, Secret::new(text));
    }
    Ok(out)
}

pub(crate) fn parse_option(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("\"{s}\" is not KEY=VALUE"))?;
    if k.trim().is_empty() {
        return Err(format!("\"{s}\" has an empty KEY"));
    }
    Ok((k.trim().to_owned(), v.to_owned()))
}

/// Tests what is about to be saved, as the window does on Save: a failed
/// check is printed and then asked about (on a terminal) or refused, so a
/// typo in a host or a password is not saved silently.
async fn test_before_saving(
    core: &Core,
    input: &ConnectionInput,
    save_anyway: bool,
    interactive: bool,
) -> Result<(), ApiError> {
    let result = core.test_connection_input(None, input.clone()).await?;
    if result.ok {
        return Ok(());
    }
    eprintln!("The connection did not pass its test:");
    for check in &result.checks {
        let mark = if check.ok {
            "ok  "
        } else if check.skipped {
            "skip"
        } else {
            "FAIL"
        };
        eprintln!("  {mark} {}: {}", check.name, check.detail);
    }
    if save_anyway {
        eprintln!("Saving it anyway (--save-anyway).");
        return Ok(());
    }
    if interactive {
        eprint!("Save it anyway? [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| ApiError::from(CoreError::io("cannot read the answer", e)))?;
        if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(());
        }
    }
    Err(ApiError {
        code: "connection_test_failed".into(),
        message: format!(
            "connection \"{}\" was not saved: it did not pass its test; fix what failed, or add \
             --save-anyway to keep it as it is",
            input.name.trim()
        ),
        retryable: true,
    })
}

/// Secrets come from a prompt or stdin, never from an argument (arguments
/// are visible to every user through `ps` and end up in shell history).
fn read_secret(from_stdin: bool, prompt: &str) -> Result<Secret, ApiError> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            ApiError::from(CoreError::io(
                "cannot read the password from standard input",
                e,
            ))
        })?;
        // `echo pw | hyperctl …` adds one newline; a password can contain others.
        let trimmed = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t));
        return Ok(Secret::new(trimmed.unwrap_or(&text)));
    }
    rpassword::prompt_password(prompt)
        .map(Secret::new)
        .map_err(|e| {
            ApiError::from(CoreError::io(
                "cannot read the password from the terminal",
                e,
            ))
        })
}

pub async fn run(core: &Core, cmd: ConnectionCommand, json: bool) -> Result<(), ApiError> {
    match cmd {
        ConnectionCommand::Add(args) => {
            let secret = if args.secret.no_password {
                None
            } else if args.secret.password_stdin || std::io::stdin().is_terminal() {
                let prompt = format!(
                    "{} for {}: ",
                    kinds::info(args.kind, false).secret_label,
                    args.username
                );
                Some(read_secret(args.secret.password_stdin, &prompt)?)
            } else {
                return Err(CoreError::invalid(
                    "secret",
                    "no terminal to prompt for the password: pass --password-stdin (and pipe it in) or --no-password",
                )
                .into());
            };
            // Someone to ask: the terminal is not the password's pipe.
            let interactive = std::io::stdin().is_terminal() && !args.secret.password_stdin;
            let input = ConnectionInput {
                kind: args.kind,
                name: args.name,
                endpoint: args.endpoint,
                username: args.username,
                secret,
                options: args.options.into_iter().collect(),
                secret_options: read_secret_files(args.secret_files)?,
                tls_fingerprint: args.pin_fingerprint,
            };
            if args.test || (interactive && !args.no_test) {
                test_before_saving(core, &input, args.save_anyway, interactive).await?;
            }
            let c = core.add_connection(input).await?;
            if json {
                return output::json(&c);
            }
            println!(
                "Added connection \"{}\" ({}, {}).",
                c.name, c.kind, c.endpoint
            );
            Ok(())
        }
        ConnectionCommand::Edit(args) => {
            let current = core.connection(&args.connection).await?;
            let mut options: BTreeMap<String, String> = current.options.clone();
            options.extend(args.options);
            let secret = if args.password_stdin || args.password_prompt {
                Some(read_secret(args.password_stdin, "New password: ")?)
            } else {
                None
            };
            let mut secret_options = read_secret_files(args.secret_files)?;
            for key in args.clear_secrets {
                secret_options.insert(key, Secret::new(""));
            }
            let input = ConnectionInput {
                kind: current.kind,
                secret_options,
                name: args.name.unwrap_or(current.name),
                endpoint: args.endpoint.unwrap_or(current.endpoint),
                username: args.username.unwrap_or(current.username),
                secret,
                options,
                tls_fingerprint: if args.unpin {
                    None
                } else {
                    args.pin_fingerprint.or(current.tls_fingerprint)
                },
            };
            let c = core.update_connection(&current.id, input).await?;
            if json {
                return output::json(&c);
            }
            println!("Updated connection \"{}\".", c.name);
            Ok(())
        }
        ConnectionCommand::List => {
            let list = core.list_connections().await?;
            if json {
                return output::json(&list);
            }
            if list.is_empty() {
                println!(
                    "No connections. Add one with: hyperctl connection add --kind vsphere --name NAME --endpoint HOST --username USER"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.kind.to_string(),
                        c.endpoint.clone(),
                        c.username.clone(),
                        if c.has_secret { "keyring" } else { "none" }.into(),
                    ]
                })
                .collect();
            output::table(&["NAME", "KIND", "ENDPOINT", "USERNAME", "SECRET"], &rows);
            Ok(())
        }
        ConnectionCommand::Show { connection } => {
            let c = core.connection(&connection).await?;
            if json {
                return output::json(&c);
            }
            print_connection(&c);
            Ok(())
        }
        ConnectionCommand::Test { connection } => {
            let result = core.test_connection(&connection).await?;
            if json {
                output::json(&result)?;
            } else {
                for check in &result.checks {
                    println!(
                        "{} {}: {}",
                        if check.ok { "ok  " } else { "FAIL" },
                        check.name,
                        check.detail
                    );
                }
            }
            if result.ok {
                Ok(())
            } else {
                Err(ApiError {
                    code: "connection_test_failed".into(),
                    message: format!("connection \"{connection}\" did not pass every check"),
                    retryable: true,
                })
            }
        }
        ConnectionCommand::Remove { connection } => {
            let c = core.connection(&connection).await?;
            core.remove_connection(&c.id).await?;
            if json {
                return output::json(&serde_json::json!({ "removed": c.id }));
            }
            println!("Removed connection \"{}\" and its keyring entry.", c.name);
            Ok(())
        }
    }
}

fn print_connection(c: &Connection) {
    println!("ID:        {}", c.id);
    println!("Name:      {}", c.name);
    println!("Kind:      {} ({})", kinds::display_name(c.kind), c.kind);
    println!("Endpoint:  {}", c.endpoint);
    println!("Username:  {}", c.username);
    println!(
        "Secret:    {}",
        if c.has_secret {
            "stored in the OS keyring"
        } else {
            "none"
        }
    );
    for (k, v) in &c.options {
        println!("Option:    {k}={v}");
    }
    println!("Created:   {}", c.created_at.to_rfc3339());
    println!("Updated:   {}", c.updated_at.to_rfc3339());
}
