//! A trained model as the store keeps it (a blob under its solution version's ARN): its
//! family, its hyperparameters, its items, their popularity and their neighbours. It holds
//! item IDs only, never a user's: what a model knows of users is in the records, which a
//! data deletion job purges.
//!
//! Layout, little-endian: `PLMODEL1`, the family's name, the parameters (count, then name
//! and value each), the items (count, then each ID), the ranked items (count, then item and
//! score each), the neighbours (starts, then items, then similarities). Strings are a `u32`
//! length and UTF-8 bytes.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::train::item_item::Neighbours;
use crate::train::popularity::Ranked;
use crate::train::Family;

const MAGIC: &[u8; 8] = b"PLMODEL1";

/// A trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// What trained it.
    pub family: Family,
    /// The hyperparameters it was trained with.
    pub params: BTreeMap<String, i64>,
    /// Item IDs, by index.
    pub items: Vec<String>,
    /// Items by popularity (or trend), best first.
    pub ranked: Ranked,
    /// Each item's most similar items (empty for popularity and trending).
    pub neighbours: Neighbours,
}

const FAMILIES: [Family; 8] = [
    Family::Popularity,
    Family::Trending,
    Family::ItemItem,
    Family::UserPersonalization,
    Family::Ranking,
    Family::ItemAffinity,
    Family::NextBestAction,
    Family::Semantic,
];

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_u32_le(s.len() as u32);
    out.put_slice(s.as_bytes());
}

fn put_u32s(out: &mut BytesMut, v: &[u32]) {
    out.put_u32_le(v.len() as u32);
    for x in v {
        out.put_u32_le(*x);
    }
}

impl Model {
    /// The model's bytes.
    pub fn encode(&self) -> Bytes {
        let n = &self.neighbours;
        let mut out = BytesMut::with_capacity(
            64 + self.items.iter().map(|i| i.len() + 4).sum::<usize>()
                + 8 * self.ranked.len()
                + 4 * (n.starts.len() + n.items.len() + n.sims.len()),
        );
        out.put_slice(MAGIC);
        put_str(&mut out, self.family.as_str());
        out.put_u32_le(self.params.len() as u32);
        for (k, v) in &self.params {
            put_str(&mut out, k);
            out.put_i64_le(*v);
        }
        out.put_u32_le(self.items.len() as u32);
        for i in &self.items {
            put_str(&mut out, i);
        }
        out.put_u32_le(self.ranked.len() as u32);
        for (i, s) in &self.ranked {
            out.put_u32_le(*i);
            out.put_f32_le(*s);
        }
        put_u32s(&mut out, &n.starts);
        put_u32s(&mut out, &n.items);
        out.put_u32_le(n.sims.len() as u32);
        for s in &n.sims {
            out.put_f32_le(*s);
        }
        out.freeze()
    }

    /// A model from its bytes; an error says what is wrong with them.
    pub fn decode(mut b: &[u8]) -> Result<Model, String> {
        fn need(b: &[u8], n: usize) -> Result<(), String> {
            if b.remaining() < n {
                return Err("the model is cut short".to_owned());
            }
            Ok(())
        }
        fn get_str(b: &mut &[u8]) -> Result<String, String> {
            need(b, 4)?;
            let len = b.get_u32_le() as usize;
            need(b, len)?;
            let s = std::str::from_utf8(&b[..len])
                .map_err(|_| "a model string is not UTF-8".to_owned())?
                .to_owned();
            b.advance(len);
            Ok(s)
        }
        fn get_count(b: &mut &[u8], each: usize) -> Result<usize, String> {
            need(b, 4)?;
            let n = b.get_u32_le() as usize;
            need(b, n.saturating_mul(each))?;
            Ok(n)
        }
        need(b, MAGIC.len())?;
        if &b[..MAGIC.len()] != MAGIC {
            return Err("not a model of this format".to_owned());
        }
        b.advance(MAGIC.len());
        let family_name = get_str(&mut b)?;
        let family = FAMILIES
            .into_iter()
            .find(|f| f.as_str() == family_name)
            .ok_or_else(|| format!("unknown model family {family_name:?}"))?;
        let mut params = BTreeMap::new();
        for _ in 0..get_count(&mut b, 12)? {
            let k = get_str(&mut b)?;
            need(b, 8)?;
            params.insert(k, b.get_i64_le());
        }
        let mut items = Vec::new();
        for _ in 0..get_count(&mut b, 4)? {
            items.push(get_str(&mut b)?);
        }
        let mut ranked = Vec::new();
        for _ in 0..get_count(&mut b, 8)? {
            ranked.push((b.get_u32_le(), b.get_f32_le()));
        }
        let u32s = |b: &mut &[u8]| -> Result<Vec<u32>, String> {
            let n = get_count(b, 4)?;
            Ok((0..n).map(|_| b.get_u32_le()).collect())
        };
        let starts = u32s(&mut b)?;
        let neighbour_items = u32s(&mut b)?;
        let n = get_count(&mut b, 4)?;
        let sims = (0..n).map(|_| b.get_f32_le()).collect::<Vec<_>>();
        let items_len = items.len() as u32;
        let bad = neighbour_items
            .iter()
            .chain(ranked.iter().map(|r| &r.0))
            .any(|&i| i >= items_len)
            || starts
                .last()
                .is_some_and(|&s| s as usize != neighbour_items.len())
            || sims.len() != neighbour_items.len();
        if bad {
            return Err("the model's tables do not agree".to_owned());
        }
        Ok(Model {
            family,
            params,
            items,
            ranked,
            neighbours: Neighbours {
                starts,
                items: neighbour_items,
                sims,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_comes_back_as_it_was_written() {
        let m = Model {
            family: Family::UserPersonalization,
            params: BTreeMap::from([("neighbours".to_owned(), 100)]),
            items: vec!["a".into(), "bé".into()],
            ranked: vec![(1, 0.5), (0, 0.25)],
            neighbours: Neighbours {
                starts: vec![0, 1, 2],
                items: vec![1, 0],
                sims: vec![0.9, 0.9],
            },
        };
        let bytes = m.encode();
        assert_eq!(Model::decode(&bytes), Ok(m));
        assert!(Model::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Model::decode(b"PLMODEL2").is_err());
    }
}
