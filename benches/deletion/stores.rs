//! Where a run's store lives: a SQLite data dir, or a database on a PostgreSQL server; and
//! the fresh copy each run gets.

use std::path::{Path, PathBuf};

use crate::Error;

/// Where a store lives: a data dir, or a database on a PostgreSQL server.
pub(crate) enum Target {
    Dir(PathBuf),
    Postgres { server: String, name: String },
}

impl Target {
    /// A fresh copy of this store for one run: a copied data dir in `work`, or a database
    /// created from this one as its template.
    pub(crate) fn fresh_copy(
        &self,
        rt: &tokio::runtime::Runtime,
        work: &Path,
        tag: &str,
    ) -> Result<Target, Error> {
        Ok(match self {
            Target::Dir(dir) => {
                let store = work.join(format!("store-{tag}"));
                copy_dir(dir, &store)?;
                Target::Dir(store)
            }
            Target::Postgres { server, name } => {
                let copy = format!("pl_bench_{tag}");
                rt.block_on(pg_admin(
                    server,
                    &[
                        &format!("DROP DATABASE IF EXISTS {copy}"),
                        &format!("CREATE DATABASE {copy} TEMPLATE {name}"),
                    ],
                ))?;
                Target::Postgres {
                    server: server.clone(),
                    name: copy,
                }
            }
        })
    }

    /// Removes a copy made by [`Target::fresh_copy`].
    pub(crate) fn remove(&self, rt: &tokio::runtime::Runtime) -> Result<(), Error> {
        match self {
            Target::Dir(dir) => std::fs::remove_dir_all(dir)?,
            Target::Postgres { server, name } => {
                rt.block_on(pg_admin(server, &[&format!("DROP DATABASE {name}")]))?
            }
        }
        Ok(())
    }

    pub(crate) fn args(&self) -> Vec<String> {
        match self {
            Target::Dir(dir) => vec!["--data-dir".into(), dir.display().to_string()],
            Target::Postgres { server, name } => vec![
                "--store".into(),
                personalize_local::store::postgres::with_dbname(server, name),
            ],
        }
    }
}

/// Runs `statements` on the server, one by one (CREATE and DROP DATABASE cannot share a
/// transaction).
pub(crate) async fn pg_admin(server: &str, statements: &[&str]) -> Result<(), Error> {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    for sql in statements {
        client.batch_execute(sql).await?;
    }
    drop(client);
    let _ = connection.await;
    Ok(())
}

pub(crate) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}
