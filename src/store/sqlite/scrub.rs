//! Targeted erasure: the bytes no record uses, zeroed in the pages a write touched.
//!
//! SQLite keeps a deleted record's bytes in three places. `secure_delete` (on for every
//! connection of the store) zeroes two of them at once: the record's cell, and pages that
//! become free. The third it cannot reach: when a write rebalances the B-tree, the pages it
//! rebuilds keep stale copies of the cells they held in their unused space (between the
//! cell pointers and the cell content, and in the gaps between cells). Those are zeroed
//! here, page by page, in the database file:
//!
//! - which pages: those of the write-ahead log, since every write goes through it and only
//!   [`super::compact::erase`] copies the log into the file (the automatic checkpoint and the
//!   checkpoint at close are off on every connection);
//! - what is zeroed: in a B-tree page, every byte that is neither the header, the cell
//!   pointers, a cell, nor the 4-byte header of a free block. SQLite never reads those bytes,
//!   so zeroing them changes no record, and a torn write leaves a valid page;
//! - pages of other kinds (overflow, free) are left alone: `secure_delete` zeroes a page
//!   when it is freed, and overflow pages come from freed or new pages.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What a scrub did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scrubbed {
    /// Pages read.
    pub(super) pages: u64,
    /// Pages written back with bytes zeroed.
    pub(super) rewritten: u64,
    /// Bytes zeroed.
    pub(super) bytes: u64,
    /// B-tree pages whose layout did not parse, left as they were.
    pub(super) unparsed: u64,
}

/// The numbers (1-based) of the pages in the write-ahead log `wal`, sorted and without
/// repeats, and the number of frames read: every frame of the log's current generation
/// (committed or not), which is a superset of what a checkpoint copies.
pub(super) fn wal_pages(wal: &Path) -> io::Result<(Vec<u32>, u64)> {
    let file = match File::open(wal) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut header = [0u8; 32];
    if len < 32 {
        return Ok((Vec::new(), 0));
    }
    file.read_exact_at(&mut header, 0)?;
    let magic = u32::from_be_bytes(header[0..4].try_into().unwrap_or_default());
    if magic & !1 != 0x377f_0682 {
        return Ok((Vec::new(), 0));
    }
    let page_size = u64::from(u32::from_be_bytes(
        header[8..12].try_into().unwrap_or_default(),
    ));
    let salts = &header[16..24];
    let mut pages = Vec::new();
    let mut frames = 0u64;
    let mut frame = [0u8; 24];
    let mut at = 32u64;
    while at + 24 + page_size <= len {
        file.read_exact_at(&mut frame, at)?;
        if &frame[8..16] != salts {
            break; // a frame of an earlier generation: the log ends here
        }
        pages.push(u32::from_be_bytes(
            frame[0..4].try_into().unwrap_or_default(),
        ));
        frames += 1;
        at += 24 + page_size;
    }
    pages.sort_unstable();
    pages.dedup();
    Ok((pages, frames))
}

/// Zeroes the unused bytes of `pages` of the database file `db` (`None`: every page), then
/// syncs it. The caller guarantees that nothing else writes the file meanwhile (SQLite
/// writes it only in a checkpoint, and only the erasure checkpoints).
pub(super) fn scrub_file(db: &Path, pages: Option<&[u32]>) -> io::Result<Scrubbed> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db)?;
    let len = file.metadata()?.len();
    let mut header = [0u8; 100];
    if len < 100 {
        return Ok(Scrubbed::default());
    }
    file.read_exact_at(&mut header, 0)?;
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65536usize,
        n => usize::from(n),
    };
    let usable = page_size - usize::from(header[20]);
    let count = (len / page_size as u64) as u32;
    // The page at 1 GiB holds SQLite's locks, never content.
    let lock_page = (1u64 << 30) / page_size as u64 + 1;
    let mut done = Scrubbed::default();
    let mut buf = vec![0u8; page_size];
    let mut before = vec![0u8; page_size];
    let all: Vec<u32>;
    let pages = match pages {
        Some(p) => p,
        None => {
            all = (1..=count).collect();
            &all
        }
    };
    for &pgno in pages {
        if pgno == 0 || pgno > count || u64::from(pgno) == lock_page {
            continue;
        }
        let offset = u64::from(pgno - 1) * page_size as u64;
        file.read_exact_at(&mut buf, offset)?;
        done.pages += 1;
        before.copy_from_slice(&buf);
        match scrub_page(&mut buf, pgno == 1, usable) {
            Ok(0) => {}
            Ok(n) => {
                // Only the blocks that changed are written: most pages have a few bytes
                // to zero, and a whole page written would cost the page.
                for (i, (new, old)) in buf.chunks(BLOCK).zip(before.chunks(BLOCK)).enumerate() {
                    if new != old {
                        file.write_all_at(new, offset + (i * BLOCK) as u64)?;
                    }
                }
                done.rewritten += 1;
                done.bytes += n as u64;
            }
            Err(why) => {
                tracing::warn!(page = pgno, why, "a page was left as it was");
                done.unparsed += 1;
            }
        }
    }
    if done.rewritten > 0 {
        file.sync_data()?;
    }
    Ok(done)
}

/// The unit of the scrub's writes: a filesystem block.
const BLOCK: usize = 4096;

/// SQLite's variable-length integer: its value and length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..8 {
        let c = *b.get(i)?;
        v = (v << 7) | u64::from(c & 0x7f);
        if c < 0x80 {
            return Some((v, i + 1));
        }
    }
    Some(((v << 8) | u64::from(*b.get(8)?), 9))
}

/// The bytes a payload of `p` bytes takes in its cell (with the overflow page number when
/// it spills), given the largest local payload `x` of its page kind and the usable size `u`.
fn local(p: u64, x: usize, u: usize) -> usize {
    if p <= x as u64 {
        return p as usize;
    }
    let m = (u - 12) * 32 / 255 - 23;
    let k = m + ((p - m as u64) % (u as u64 - 4)) as usize;
    (if k <= x { k } else { m }) + 4
}

/// The size of the cell at the start of `cell` on a page of kind `flag`.
fn cell_size(cell: &[u8], flag: u8, u: usize) -> Option<usize> {
    let index_x = (u - 12) * 64 / 255 - 23;
    match flag {
        0x05 => Some(4 + varint(cell.get(4..)?)?.1),
        0x0d => {
            let (p, n1) = varint(cell)?;
            let (_, n2) = varint(cell.get(n1..)?)?;
            Some(n1 + n2 + local(p, u - 35, u))
        }
        0x0a => {
            let (p, n) = varint(cell)?;
            Some(n + local(p, index_x, u))
        }
        0x02 => {
            let (p, n) = varint(cell.get(4..)?)?;
            Some(4 + n + local(p, index_x, u))
        }
        _ => None,
    }
}

fn u16_at(page: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *page.get(at)?,
        *page.get(at + 1)?,
    ])))
}

/// Zeroes `range` of `page`, returning how many of its bytes were not zero.
fn zero(page: &mut [u8], from: usize, to: usize) -> usize {
    let bytes = &mut page[from..to];
    let nonzero = bytes.iter().filter(|&&b| b != 0).count();
    if nonzero > 0 {
        bytes.fill(0);
    }
    nonzero
}

/// Zeroes every byte of a B-tree page that SQLite does not use (see the module's comment)
/// and returns how many were not zero; a page of another kind is left alone (0). `first`:
/// page 1, whose B-tree header follows the 100-byte database header. A page whose layout
/// does not hold together is left alone, with the reason.
pub(super) fn scrub_page(
    page: &mut [u8],
    first: bool,
    usable: usize,
) -> Result<usize, &'static str> {
    let h = if first { 100 } else { 0 };
    let flag = page[h];
    let header = match flag {
        0x02 | 0x05 => 12,
        0x0a | 0x0d => 8,
        _ => return Ok(0),
    };
    let bad = "its header or cells are out of bounds";
    let cells = u16_at(page, h + 3).ok_or(bad)?;
    let start = match u16_at(page, h + 5).ok_or(bad)? {
        0 => 65536,
        n => n,
    };
    let pointers_end = h + header + 2 * cells;
    if pointers_end > start || start > usable {
        return Err(bad);
    }
    // The byte ranges to keep in the content area: cells and free-block headers.
    let mut keep = Vec::with_capacity(cells + 8);
    for i in 0..cells {
        let at = u16_at(page, h + header + 2 * i).ok_or(bad)?;
        if at < start || at >= usable {
            return Err(bad);
        }
        let size = cell_size(&page[at..usable], flag, usable).ok_or(bad)?;
        if at + size > usable {
            return Err(bad);
        }
        keep.push((at, at + size));
    }
    let mut block = u16_at(page, h + 1).ok_or(bad)?;
    while block != 0 {
        let size = u16_at(page, block + 2).ok_or(bad)?;
        if block < start || block + size.max(4) > usable {
            return Err("its free blocks are out of bounds");
        }
        keep.push((block, block + 4));
        let next = u16_at(page, block).ok_or(bad)?;
        if next != 0 && next <= block {
            return Err("its free blocks are out of order");
        }
        block = next;
    }
    keep.sort_unstable();
    if keep.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err("its cells overlap");
    }
    let mut zeroed = zero(page, pointers_end, start);
    let mut at = start;
    for (from, to) in keep {
        zeroed += zero(page, at, from);
        at = to;
    }
    zeroed += zero(page, at, usable);
    Ok(zeroed)
}

#[cfg(test)]
mod tests {
    use rusqlite::{params, Connection};

    use super::*;

    /// A database in rollback-journal mode (so its file is its whole content) that has seen
    /// inserts, updates and deletes of small and overflowing rows in rowid tables, a
    /// WITHOUT ROWID table and an index, each row of `gone` marked `GONE` and deleted.
    fn churned(path: &Path, page_size: u32) -> Vec<(i64, Vec<u8>)> {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA page_size = {page_size}; PRAGMA journal_mode = DELETE; PRAGMA secure_delete = ON;
             CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
             CREATE TABLE w (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
             CREATE INDEX t_v ON t (v);"
        ))
        .unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..3000i64 {
            let size = [12usize, 90, 400, 3000, 20000][(i % 5) as usize];
            let mark = if i % 3 == 0 { "GONE" } else { "KEPT" };
            let v: Vec<u8> = format!("{mark}{i:06}").bytes().cycle().take(size).collect();
            // Keys in a scattered order, so that inserts split pages in the middle.
            let k = format!("{mark}{:06}", (i * 7919) % 3001);
            conn.execute("INSERT INTO t (id, v) VALUES (?1, ?2)", params![i, v])
                .unwrap();
            conn.execute(
                "INSERT OR REPLACE INTO w (k, v) VALUES (?1, ?2)",
                params![k, v],
            )
            .unwrap();
        }
        conn.execute("UPDATE t SET v = substr(v, 1, 50) WHERE id % 7 = 1", [])
            .unwrap();
        conn.execute("DELETE FROM t WHERE id % 3 = 0", []).unwrap();
        conn.execute("DELETE FROM w WHERE k LIKE 'GONE%'", [])
            .unwrap();
        tx.commit().unwrap();
        let rows = conn
            .prepare("SELECT id, v FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows
    }

    #[test]
    fn zeroing_the_unused_bytes_keeps_every_record_and_removes_the_stale_copies() {
        for page_size in [4096, 65536] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db");
            let rows = churned(&path, page_size);
            let before = std::fs::read(&path).unwrap();
            // Rebalancing left copies of deleted rows that `secure_delete` did not zero.
            assert!(
                memchr::memmem::find(&before, b"GONE").is_some(),
                "page size {page_size}: the churn left no stale copy to find"
            );
            let done = scrub_file(&path, None).unwrap();
            assert_eq!(done.unparsed, 0);
            assert!(done.rewritten > 0 && done.bytes > 0, "{done:?}");
            let after = std::fs::read(&path).unwrap();
            assert_eq!(
                memchr::memmem::find(&after, b"GONE"),
                None,
                "page size {page_size}"
            );
            let conn = Connection::open(&path).unwrap();
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok");
            let again: Vec<(i64, Vec<u8>)> = conn
                .prepare("SELECT id, v FROM t ORDER BY id")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(again, rows);
            let kept: i64 = conn
                .query_row("SELECT count(*) FROM w WHERE k LIKE 'KEPT%'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(kept, 2000);
            // A second scrub finds nothing left to zero.
            drop(conn);
            assert_eq!(scrub_file(&path, None).unwrap().rewritten, 0);
        }
    }

    #[test]
    fn the_pages_of_the_log_are_those_a_write_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (v BLOB);",
        )
        .unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let wal = dir.path().join("db-wal");
        assert_eq!(wal_pages(&wal).unwrap(), (vec![], 0));
        conn.execute("INSERT INTO t VALUES (zeroblob(10))", [])
            .unwrap();
        conn.execute("INSERT INTO t VALUES (zeroblob(10))", [])
            .unwrap();
        // Two commits of the table's one page (page 2).
        assert_eq!(wal_pages(&wal).unwrap(), (vec![2], 2));
    }

    #[test]
    fn a_page_that_does_not_parse_is_left_alone() {
        let mut page = vec![0xaau8; 4096];
        page[0] = 0x0d;
        page[3..5].copy_from_slice(&1u16.to_be_bytes()); // one cell
        page[5..7].copy_from_slice(&100u16.to_be_bytes());
        page[8..10].copy_from_slice(&50u16.to_be_bytes()); // before the content area
        let copy = page.clone();
        assert!(scrub_page(&mut page, false, 4096).is_err());
        assert_eq!(page, copy);
        // Not a B-tree page (an overflow page, say): nothing to do.
        page[0] = 0;
        assert_eq!(scrub_page(&mut page, false, 4096), Ok(0));
    }
}
