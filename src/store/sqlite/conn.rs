//! Opening the SQLite store (safely beside other processes opening the same new file) and
//! the connections every operation runs on: one writer behind a mutex, a small pool of
//! read-only readers, each used on a blocking thread.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use super::{
    backend, compact, migrate, DbResult, SqliteStore, CACHE_KIB, DB_FILE, ERASE_AT_LOG_BYTES,
    PAGE_SIZE, READERS, READER_CACHE_KIB, READER_MMAP_BYTES,
};
use crate::store::{StoreError, StoreResult};

/// How long a connection waits for another's lock before `SQLITE_BUSY`.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Turns write-ahead logging on. Switching a new file's journal mode takes an exclusive lock,
/// for which SQLite may answer `SQLITE_BUSY` at once while another process opens the same
/// file, without calling the busy handler: it is retried for up to [`BUSY_TIMEOUT`].
fn set_wal(conn: &Connection) -> DbResult<()> {
    let started = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(StoreError::Invalid(format!(
                    "the database cannot use write-ahead logging (journal mode {mode})"
                )))
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Opens a read-only connection to the database file `path`, which waits for locks and
/// never checkpoints (see [`super::compact`]).
pub(super) fn read_only(path: &Path) -> DbResult<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`/[`DB_FILE`].
    pub fn open_dir(dir: &Path) -> StoreResult<Self> {
        if !dir.exists() {
            // The data dir holds personal data: its owner's only.
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(backend)?;
        }
        SqliteStore::open(&dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the store in the database file `path`. A new file is
    /// readable and writable by its owner only (0600), and so are the write-ahead log and
    /// its index, which SQLite creates with the database file's permissions.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if !path.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(backend(e)),
            }
        }
        let mut conn = Connection::open(path)?;
        // Only the erasure copies the log into the file (see `compact`).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        // Another process may be opening the same new file: every step below waits for its
        // locks (the busy timeout comes first), and the migration re-reads the schema
        // version inside each of its transactions. The page size only takes effect on a new
        // database, so it comes before anything is written.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))?;
        set_wal(&conn)?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             PRAGMA wal_autocheckpoint = 0;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = FILE;
             PRAGMA cache_size = -{CACHE_KIB};"
        ))?;
        migrate::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::default(),
            reading: Arc::new(tokio::sync::Semaphore::new(READERS)),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f`, a transaction that writes much (a load, a purge), like [`Self::with_conn`]
    /// but leaving the log as it is: the commit is durable once its pages are in the
    /// write-ahead log, and copying them into the database file (and erasing) waits for
    /// [`super::DatasetStore::compact`], after the job.
    pub(super) async fn with_large_write<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        self.on_writer(f, false).await
    }

    /// Runs `f`, which only reads, on a read-only connection of the pool in a blocking
    /// thread: it reads the last commit and waits for no writer.
    pub(super) async fn with_reader<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        // At most READERS reads at once, each on a pooled connection: opening one per read
        // (its pragmas, its schema parsed again) cost more than the read under load.
        let permit = self
            .reading
            .clone()
            .acquire_owned()
            .await
            .map_err(backend)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => {
                    let conn = read_only(&path)?;
                    conn.execute_batch(&format!(
                        "PRAGMA temp_store = FILE;
                         PRAGMA cache_size = -{READER_CACHE_KIB};
                         PRAGMA mmap_size = {READER_MMAP_BYTES};"
                    ))?;
                    conn
                }
            };
            let result = f(&mut conn);
            let mut pool = readers.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < READERS && conn.is_autocommit() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(backend)?
    }

    /// Runs `f` on the connection in a blocking thread. When the write-ahead log has grown
    /// past [`ERASE_AT_LOG_BYTES`], an erasure follows (in place of SQLite's automatic
    /// checkpoint, which is off).
    pub(super) async fn with_conn<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        self.on_writer(f, true).await
    }

    async fn on_writer<T, F>(&self, f: F, erase_if_grown: bool) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // No await happens under this lock; a panic in `f` rolls its transaction back
            // when the transaction is dropped, so a poisoned lock is still consistent.
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            let result = f(&mut guard);
            if erase_if_grown && guard.is_autocommit() {
                let log = std::fs::metadata(compact::wal_file(&path)).map_or(0, |m| m.len());
                if log > ERASE_AT_LOG_BYTES {
                    if let Err(e) = compact::erase(&guard, &path) {
                        tracing::warn!(error = %e, "cannot erase after a write");
                    }
                }
            }
            result
        })
        .await
        .map_err(backend)?
    }
}
