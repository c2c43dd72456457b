//! An external merge sort of `(key, record)` pairs with bounded memory: pairs are gathered in
//! an arena; each full arena is sorted by key and spilled to a temp file as a run; the runs
//! are merged. Records of one key come out in the order they went in.
//!
//! Each entry carries the first 16 bytes of its key as a big-endian number, so most
//! comparisons (in the sort and in the merge) are one integer comparison, not a `memcmp` of
//! two strings out in the arena.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};

/// Bytes of keys and records held in memory before a run is spilled.
pub(super) const RUN_BYTES: usize = 48 * 1024 * 1024;

/// Where a pair lives in the arena, with its key's prefix.
#[derive(Debug, Clone, Copy)]
struct Entry {
    prefix: u128,
    start: usize,
    key_len: u32,
    rec_len: u32,
}

/// The first 16 bytes of a key (zero-padded) as a number that orders like the bytes.
fn prefix(key: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = key.len().min(16);
    b[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(b)
}

/// Gathers pairs; [`Sorter::finish`] yields them by key.
#[derive(Debug)]
pub(super) struct Sorter {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<File>,
    run_bytes: usize,
}

impl Sorter {
    /// A sorter spilling runs of about `run_bytes`.
    pub(super) fn new(run_bytes: usize) -> Self {
        Sorter {
            arena: Vec::new(),
            entries: Vec::new(),
            runs: Vec::new(),
            run_bytes: run_bytes.max(1),
        }
    }

    /// Adds one pair.
    pub(super) fn push(&mut self, key: &[u8], rec: &[u8]) -> io::Result<()> {
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

    fn sort_entries(&mut self) {
        let arena = &self.arena;
        // Entries are in arrival order, and so are their arena offsets: breaking ties on
        // the offset keeps the records of a key in order with a faster, unstable sort.
        self.entries.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| key(arena, a).cmp(key(arena, b)))
                .then(a.start.cmp(&b.start))
        });
    }

    fn spill(&mut self) -> io::Result<()> {
        self.sort_entries();
        let mut out = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
        for e in &self.entries {
            write_varint(&mut out, e.key_len as u64)?;
            out.write_all(key(&self.arena, e))?;
            write_varint(&mut out, e.rec_len as u64)?;
            out.write_all(rec(&self.arena, e))?;
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        std::io::Seek::rewind(&mut file)?;
        self.runs.push(file);
        self.arena.clear();
        self.entries.clear();
        Ok(())
    }

    /// Every pair, by key: calls `f(key, 1, record)` for each, the records of a key in the
    /// order they went in.
    pub(super) fn finish<E: From<io::Error>>(
        mut self,
        mut f: impl FnMut(&[u8], u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.runs.is_empty() {
            self.sort_entries();
            for e in &self.entries {
                f(key(&self.arena, e), 1, rec(&self.arena, e))?;
            }
            return Ok(());
        }
        if !self.entries.is_empty() {
            self.spill()?;
        }
        let runs = std::mem::take(&mut self.runs);
        drop(self); // the arena goes before the merge
        let mut heads: Vec<Run> = Vec::with_capacity(runs.len());
        for file in runs {
            let mut run = Run {
                reader: BufReader::with_capacity(1 << 20, file),
                key: Vec::new(),
                prefix: 0,
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
                        r.prefix < h.prefix || (r.prefix == h.prefix && r.key < h.key)
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
    prefix: u128,
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

pub(super) fn write_varint(out: &mut impl Write, mut v: u64) -> io::Result<()> {
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
pub(super) fn read_varint(input: &mut impl Read) -> io::Result<Option<u64>> {
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
        for shape in ["u{}", "u-with-a-long-shared-prefix-{}"] {
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
            for run_bytes in [usize::MAX, 64, 7, 1] {
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
