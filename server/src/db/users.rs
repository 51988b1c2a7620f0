//! The users table: accounts, their bcrypt hashes and roles, and the rule
//! that the last admin stays.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Db, DbError};
use ferry_proto::protocol::Role;
use ferry_proto::time::Timestamp;

impl Db {
    /// Whether any user exists.
    pub fn has_users(&self) -> Result<bool, DbError> {
        let n: i64 = self
            .lock()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        Ok(n > 0)
    }

    /// A user's password hash and role.
    pub fn user(&self, name: &str) -> Result<Option<(String, Role)>, DbError> {
        // Asked before every request (a removed or demoted user loses
        // rights at once): a statement parsed once.
        let conn = self.lock();
        let row = conn
            .prepare_cached("SELECT password_hash, role FROM users WHERE name = ?1")?
            .query_row([name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        Ok(row.map(|(hash, role)| (hash, parse_role(&role))))
    }

    /// All users, sorted by name.
    pub fn users(&self) -> Result<Vec<(String, Role)>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT name, role FROM users ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, parse_role(&r.get::<_, String>(1)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a user.
    pub fn add_user(&self, name: &str, password_hash: &str, role: Role) -> Result<(), DbError> {
        let result = self.lock().execute(
            "INSERT INTO users (name, password_hash, role, created) VALUES (?1, ?2, ?3, ?4)",
            params![name, password_hash, role.as_str(), Timestamp::now().0],
        );
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(DbError::Exists)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a user; refuses to remove the last admin.
    pub fn remove_user(&self, name: &str) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let role = user_role(&tx, name)?.ok_or(DbError::NotFound)?;
        if role == Role::Admin && admin_count(&tx)? <= 1 {
            return Err(DbError::LastAdmin);
        }
        tx.execute("DELETE FROM users WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces a user's password hash.
    pub fn set_password(&self, name: &str, password_hash: &str) -> Result<(), DbError> {
        let n = self.lock().execute(
            "UPDATE users SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )?;
        if n == 0 {
            Err(DbError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Changes a user's role; refuses to demote the last admin.
    pub fn set_role(&self, name: &str, role: Role) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = user_role(&tx, name)?.ok_or(DbError::NotFound)?;
        if current == Role::Admin && role == Role::User && admin_count(&tx)? <= 1 {
            return Err(DbError::LastAdmin);
        }
        tx.execute(
            "UPDATE users SET role = ?2 WHERE name = ?1",
            params![name, role.as_str()],
        )?;
        tx.commit()?;
        Ok(())
    }

    // -- files --------------------------------------------------------------
}

fn parse_role(text: &str) -> Role {
    // The CHECK constraint admits only these two.
    if text == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

fn user_role(conn: &Connection, name: &str) -> Result<Option<Role>, DbError> {
    Ok(conn
        .query_row("SELECT role FROM users WHERE name = ?1", [name], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .map(|r| parse_role(&r)))
}

fn admin_count(conn: &Connection) -> Result<i64, DbError> {
    Ok(
        conn.query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], |r| {
            r.get(0)
        })?,
    )
}
