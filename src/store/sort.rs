//! An external merge sort of `(key, record)` pairs with bounded memory: pairs are gathered in
//! an arena; each full arena is sorted by key and spilled to a temp file as a run; the runs
//! are merged. Records of one key come out in the order they went in.
//!
//! Each entry carries the first 32 bytes of its key as two big-endian numbers, so comparing
//! keys of up to 32 bytes (in the sort and in the merge) is two integer comparisons, not a
//! `memcmp` of two strings out in the arena. (W1's user IDs are zero-padded: one in five
//! shares its first 16 bytes with others.)
//!
//! A full arena is sorted and written out by a thread of its own while the next one fills,
//! so the sort uses the second core.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};

/// Bytes of keys and records held in memory before a run is spilled.
pub(in crate::store) const RUN_BYTES: usize = 48 * 1024 * 1024;

/// Where a pair lives in the arena, with its key's prefix.
#[derive(Debug, Clone, Copy)]
struct Entry {
    prefix: Prefix,
    start: usize,
    key_len: u32,
    rec_len: u32,
}

/// The first 32 bytes of a key (zero-padded) as numbers that order like the bytes.
type Prefix = (u128, u128);

fn prefix(key: &[u8]) -> Prefix {
    let mut b = [0u8; 32];
    let n = key.len().min(32);
    b[..n].copy_from_slice(&key[..n]);
    let (hi, lo) = b.split_at(16);
    (
        u128::from_be_bytes(hi.try_into().unwrap_or_default()),
        u128::from_be_bytes(lo.try_into().unwrap_or_default()),
    )
}

/// Orders two keys whose prefixes are equal: by the bytes past 32 if either has any, else
/// by length (equal prefixes then differ only in trailing zero bytes).
fn tie(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    if a.len() > 32 || b.len() > 32 {
        a.cmp(b)
    } else {
        a.len().cmp(&b.len())
    }
}

/// A run being sorted and written by its own thread; it hands back the file and the emptied
/// buffers, for the next run to reuse.
type Spilling = std::thread::JoinHandle<io::Result<(File, Vec<u8>, Vec<Entry>)>>;

/// Gathers pairs; [`Sorter::finish`] yields them by key.
#[derive(Debug)]
pub(in crate::store) struct Sorter {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<File>,
    spilling: Option<Spilling>,
    run_bytes: usize,
}

impl Sorter {
    /// A sorter spilling runs of about `run_bytes`.
    pub(in crate::store) fn new(run_bytes: usize) -> Self {
        Sorter {
            arena: Vec::new(),
            entries: Vec::new(),
            runs: Vec::new(),
            spilling: None,
            run_bytes: run_bytes.max(1),
        }
    }

    /// Adds one pair.
    pub(in crate::store) fn push(&mut self, key: &[u8], rec: &[u8]) -> io::Result<()> {
        let start = self.arena.len();
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(rec);
        self.entries.push(Entry {
            prefix: prefix(key),
            start,
            key_len: key.len() as u32,
            rec_len: rec.len() as u32,
        });
        if self.arena.len() >= self.run_bytes {
            self.spill()?;
        }
        Ok(())
    }

    /// Waits for the run being written, if any, and keeps its file and buffers.
    fn join(&mut self) -> io::Result<Option<(Vec<u8>, Vec<Entry>)>> {
        let Some(handle) = self.spilling.take() else {
            return Ok(None);
        };
        let (file, arena, entries) = handle
            .join()
            .map_err(|_| io::Error::other("the thread sorting a run panicked"))??;
        self.runs.push(file);
        Ok(Some((arena, entries)))
    }

    /// Hands the full arena to a thread that sorts it and writes it out as a run.
    fn spill(&mut self) -> io::Result<()> {
        let reuse = self.join()?;
        let (mut arena, mut entries) = reuse.unwrap_or_default();
        arena.clear();
        entries.clear();
        let arena = std::mem::replace(&mut self.arena, arena);
        let entries = std::mem::replace(&mut self.entries, entries);
        self.spilling = Some(std::thread::spawn(move || write_run(arena, entries)));
        Ok(())
    }

    /// Every pair, by key: calls `f(key, 1, record)` for each, the records of a key in the
    /// order they went in.
    pub(in crate::store) fn finish<E: From<io::Error>>(
        mut self,
        mut f: impl FnMut(&[u8], u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.runs.is_empty() && self.spilling.is_none() {
            sort_entries(&self.arena, &mut self.entries);
            for e in &self.entries {
                f(key(&self.arena, e), 1, rec(&self.arena, e))?;
            }
            return Ok(());
        }
        if !self.entries.is_empty() {
            self.spill()?;
        }
        self.join()?;
        let runs = std::mem::take(&mut self.runs);
        drop(self); // the arenas go before the merge
        let mut heads: Vec<Run> = Vec::with_capacity(runs.len());
        for file in runs {
            let mut run = Run {
                reader: BufReader::with_capacity(1 << 20, file),
                key: Vec::new(),
                prefix: (0, 0),
                rec: Vec::new(),
                live: true,
            };
            run.advance()?;
            heads.push(run);
        }
        // Few runs: a linear scan for the smallest head beats a heap. The first run wins a
        // tie, which keeps the records of a key in order.
        loop {
            let mut best: Option<usize> = None;
            for (i, r) in heads.iter().enumerate() {
                if !r.live {
                    continue;
                }
                let smaller = match best {
                    None => true,
                    Some(b) => {
                        let h = &heads[b];
                        r.prefix
                            .cmp(&h.prefix)
                            .then_with(|| tie(&r.key, &h.key))
                            .is_lt()
                    }
                };
                if smaller {
                    best = Some(i);
                }
            }
            let Some(i) = best else { return Ok(()) };
            f(&heads[i].key, 1, &heads[i].rec)?;
            heads[i].advance()?;
        }
    }
}

fn sort_entries(arena: &[u8], entries: &mut [Entry]) {
    // Entries are in arrival order, and so are their arena offsets: breaking ties on the
    // offset keeps the records of a key in order with a faster, unstable sort.
    entries.sort_unstable_by(|a, b| {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| tie(key(arena, a), key(arena, b)))
            .then(a.start.cmp(&b.start))
    });
}

/// Sorts one run and writes it to a temp file, rewound for reading.
fn write_run(arena: Vec<u8>, mut entries: Vec<Entry>) -> io::Result<(File, Vec<u8>, Vec<Entry>)> {
    sort_entries(&arena, &mut entries);
    let mut out = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
    for e in &entries {
        write_varint(&mut out, e.key_len as u64)?;
        out.write_all(key(&arena, e))?;
        write_varint(&mut out, e.rec_len as u64)?;
        out.write_all(rec(&arena, e))?;
    }
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    std::io::Seek::rewind(&mut file)?;
    Ok((file, arena, entries))
}

fn key<'a>(arena: &'a [u8], e: &Entry) -> &'a [u8] {
    &arena[e.start..e.start + e.key_len as usize]
}

fn rec<'a>(arena: &'a [u8], e: &Entry) -> &'a [u8] {
    let from = e.start + e.key_len as usize;
    &arena[from..from + e.rec_len as usize]
}

struct Run {
    reader: BufReader<File>,
    key: Vec<u8>,
    prefix: Prefix,
    rec: Vec<u8>,
    live: bool,
}

impl Run {
    fn advance(&mut self) -> io::Result<()> {
        let Some(key_len) = read_varint(&mut self.reader)? else {
            self.live = false;
            return Ok(());
        };
        self.key.resize(key_len as usize, 0);
        self.reader.read_exact(&mut self.key)?;
        self.prefix = prefix(&self.key);
        let rec_len = read_varint(&mut self.reader)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "truncated run"))?;
        self.rec.resize(rec_len as usize, 0);
        self.reader.read_exact(&mut self.rec)?;
        Ok(())
    }
}

pub(in crate::store) fn write_varint(out: &mut impl Write, mut v: u64) -> io::Result<()> {
    let mut buf = [0u8; 10];
    let mut n = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf[n] = byte;
            n += 1;
            break;
        }
        buf[n] = byte | 0x80;
        n += 1;
    }
    out.write_all(&buf[..n])
}

/// A varint, or `None` at a clean end of input.
pub(in crate::store) fn read_varint(input: &mut impl Read) -> io::Result<Option<u64>> {
    let mut v = 0u64;
    let mut shift = 0;
    let mut byte = [0u8; 1];
    loop {
        if input.read(&mut byte)? == 0 {
            return if shift == 0 {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated varint",
                ))
            };
        }
        v |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(Some(v));
        }
        shift += 7;
        if shift > 63 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "varint too long",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(pairs: &[(&str, &str)], run_bytes: usize) -> Vec<(String, String)> {
        let mut s = Sorter::new(run_bytes);
        for (k, r) in pairs {
            s.push(k.as_bytes(), r.as_bytes()).unwrap();
        }
        let mut out: Vec<(String, String)> = Vec::new();
        s.finish(|k, n, recs| -> io::Result<()> {
            assert_eq!(n, 1);
            assert_eq!(recs.len(), 1);
            for r in recs {
                out.push((
                    String::from_utf8(k.to_vec()).unwrap(),
                    String::from_utf8(vec![*r]).unwrap(),
                ));
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn pairs_come_out_by_key_and_in_order_in_memory_and_from_runs() {
        let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
        // Short keys, and keys alike in their first 16 bytes (the prefix).
        for shape in [
            "u{}",
            "u-with-a-long-shared-prefix-{}",
            "user-with-a-much-longer-shared-prefix-of-40-{}",
        ] {
            let pairs: Vec<(String, String)> = (0..500)
                .map(|i| {
                    (
                        shape.replace("{}", &format!("{:03}", (i * 37) % 101)),
                        letters[i % letters.len()].to_string(),
                    )
                })
                .collect();
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, r)| (k.as_str(), r.as_str()))
                .collect();
            let mut expected = pairs.clone();
            expected.sort_by(|a, b| a.0.cmp(&b.0)); // stable
            for run_bytes in [usize::MAX, 256, 64] {
                assert_eq!(
                    sorted(&refs, run_bytes),
                    expected,
                    "runs of {run_bytes} bytes"
                );
            }
        }
        assert_eq!(sorted(&[], 1), vec![]);
    }

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            write_varint(&mut buf, v).unwrap();
            assert_eq!(read_varint(&mut &buf[..]).unwrap(), Some(v));
        }
        assert_eq!(read_varint(&mut &[][..]).unwrap(), None);
        assert!(read_varint(&mut &[0x80][..]).is_err());
    }
}
