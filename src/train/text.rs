//! Semantic similarity (aws-semantic-similarity): items whose textual fields are most alike,
//! by the cosine of their TF-IDF vectors. Words are the lower-cased runs of letters and
//! digits of two characters or more; a word in more than a tenth of the items (and more than
//! 1000 of them) says little and is left out, which also bounds the cost: each item is
//! compared only with the items sharing one of its rarer words.

use std::collections::HashMap;

use super::item_item::Neighbours;

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
}

/// The `neighbours` most similar items of each of `texts` (one per item, by index).
pub fn similarities(texts: &[String], neighbours: usize) -> Neighbours {
    let n = texts.len();
    // Term frequencies per item, with terms interned.
    let mut vocab: HashMap<String, u32> = HashMap::new();
    let mut docs: Vec<Vec<(u32, f32)>> = Vec::with_capacity(n);
    for t in texts {
        let mut tf: HashMap<u32, f32> = HashMap::new();
        for w in words(t) {
            let next = vocab.len() as u32;
            let id = *vocab.entry(w).or_insert(next);
            *tf.entry(id).or_default() += 1.0;
        }
        let mut doc: Vec<(u32, f32)> = tf.into_iter().collect();
        doc.sort_by_key(|d| d.0);
        docs.push(doc);
    }
    let mut df = vec![0u32; vocab.len()];
    for d in &docs {
        for &(t, _) in d {
            df[t as usize] += 1;
        }
    }
    let common = (n / 10).max(1000) as u32;
    // TF-IDF, normalised; common words dropped.
    for d in &mut docs {
        d.retain(|&(t, _)| df[t as usize] <= common);
        for (t, w) in d.iter_mut() {
            *w *= ((n as f32 + 1.0) / (df[*t as usize] as f32 + 1.0)).ln() + 1.0;
        }
        let norm = d.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            d.iter_mut().for_each(|(_, w)| *w /= norm);
        }
    }
    let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); vocab.len()];
    for (i, d) in docs.iter().enumerate() {
        for &(t, w) in d {
            postings[t as usize].push((i as u32, w));
        }
    }
    let mut out = Neighbours {
        starts: vec![0],
        ..Neighbours::default()
    };
    let mut dot = vec![0f32; n];
    let mut touched = Vec::new();
    let mut best: Vec<(u32, f32)> = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        for &(t, w) in d {
            for &(j, wj) in &postings[t as usize] {
                if j as usize != i {
                    if dot[j as usize] == 0.0 {
                        touched.push(j);
                    }
                    dot[j as usize] += w * wj;
                }
            }
        }
        best.clear();
        best.extend(touched.iter().map(|&j| (j, dot[j as usize].min(1.0))));
        for &j in &touched {
            dot[j as usize] = 0.0;
        }
        touched.clear();
        let by_score = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if best.len() > neighbours {
            best.select_nth_unstable_by(neighbours, by_score);
            best.truncate(neighbours);
        }
        best.sort_by(by_score);
        out.items.extend(best.iter().map(|b| b.0));
        out.sims.extend(best.iter().map(|b| b.1));
        out.starts.push(out.items.len() as u32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_described_alike_are_neighbours() {
        let texts = [
            "Waterproof hiking boots, leather",
            "Leather hiking boots for winter",
            "A cookbook of Italian pasta",
            "Pasta recipes: an Italian cookbook",
            "",
        ]
        .map(str::to_owned);
        let n = similarities(&texts, 10);
        let first = |i: u32| n.of(i).next().map(|(j, _)| j);
        assert_eq!(first(0), Some(1));
        assert_eq!(first(1), Some(0));
        assert_eq!(first(2), Some(3));
        assert_eq!(first(3), Some(2));
        assert_eq!(n.of(4).count(), 0, "no words, no neighbours");
        let (_, sim) = n.of(2).next().unwrap();
        assert!(sim > 0.3 && sim <= 1.0, "{sim}");
    }
}
