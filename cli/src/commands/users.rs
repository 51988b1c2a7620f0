//! User management: list, add, remove, set a password, change a role. The
//! server checks who may do what; these only ask and report.

use anyhow::{Context as _, Result};
use ferry_proto::Role;

use crate::output::{self, quoted};
use crate::session::Connection;

/// `users list`: a table, or a JSON array of `{name, role}`.
pub fn list(session: &mut Connection, json: bool) -> Result<String> {
    let users = session
        .client()
        .users()
        .context("could not list the users")?;
    if json {
        let rows: Vec<serde_json::Value> = users
            .iter()
            .map(|(name, role)| serde_json::json!({ "name": name, "role": role.as_str() }))
            .collect();
        return Ok(serde_json::to_string_pretty(&rows)? + "\n");
    }
    Ok(output::users_table(&users))
}

/// `users add NAME --role ROLE`.
pub fn add(session: &mut Connection, name: &str, role: Role, password: &str) -> Result<String> {
    session
        .client()
        .add_user(name, role, password)
        .with_context(|| format!("could not add the user {}", quoted(name)))?;
    Ok(format!(
        "added the user {} with role {role}\n",
        quoted(name)
    ))
}

/// `users remove NAME`.
pub fn remove(session: &mut Connection, name: &str) -> Result<String> {
    session
        .client()
        .remove_user(name)
        .with_context(|| format!("could not remove the user {}", quoted(name)))?;
    Ok(format!("removed the user {}\n", quoted(name)))
}

/// `users passwd [NAME]`.
pub fn passwd(session: &mut Connection, name: &str, password: &str) -> Result<String> {
    session
        .client()
        .set_password(name, password)
        .with_context(|| format!("could not set the password of {}", quoted(name)))?;
    Ok(format!("set a new password for {}\n", quoted(name)))
}

/// `users role NAME ROLE`.
pub fn set_role(session: &mut Connection, name: &str, role: Role) -> Result<String> {
    session
        .client()
        .set_role(name, role)
        .with_context(|| format!("could not change the role of {}", quoted(name)))?;
    Ok(format!("{} now has the role {role}\n", quoted(name)))
}
