//! Gathers every match with its sort key and counts facets over all of them, then cuts
//! one keyset page out of the matches.

use std::cmp::Ordering;
use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};
use uuid::Uuid;

use super::schema::names;
use super::{FacetCount, FacetField, SearchCursor, SortOrder};

/// Buckets returned per facet.
const MAX_BUCKETS: usize = 50;

/// One matching product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hit {
    /// The sort key for the requested order.
    pub key: i64,
    pub id: Uuid,
    /// Where to read its stored fields.
    pub address: DocAddress,
}

/// Turns a relevance score into an exact integer key: the score to two decimals, then a
/// bonus below one hundredth for shorter names (fewer words read closer to the query).
///
/// Scores are sums of constant clause weights, but tantivy may add them up in another
/// order in another segment layout; rounding absorbs the last-bit differences, so the key
/// of a product never changes between two pages.
pub(super) fn relevance_key(score: Score, name_words: u64) -> i64 {
    let score = (f64::from(score) * 100.0).round() as i64;
    let shortness = 999 / (1 + name_words.min(998) as i64);
    score * 1000 + shortness
}

/// Whether larger keys come first.
fn descending(sort: SortOrder) -> bool {
    !matches!(sort, SortOrder::PriceAscending)
}

/// The page order: by key in the sort's direction, then by id so that equal keys still
/// have one fixed order.
pub(super) fn compare(sort: SortOrder, a: (i64, Uuid), b: (i64, Uuid)) -> Ordering {
    let by_key = if descending(sort) {
        b.0.cmp(&a.0)
    } else {
        a.0.cmp(&b.0)
    };
    by_key.then(a.1.cmp(&b.1))
}

/// The `limit` hits that follow `after` in `sort` order, and whether more remain.
pub(super) fn page(
    mut hits: Vec<Hit>,
    sort: SortOrder,
    after: Option<&SearchCursor>,
    limit: usize,
) -> (Vec<Hit>, bool) {
    if let Some(after) = after {
        hits.retain(|hit| compare(sort, (hit.key, hit.id), (after.key, after.id)).is_gt());
    }
    let more = hits.len() > limit;
    let order = |a: &Hit, b: &Hit| compare(sort, (a.key, a.id), (b.key, b.id));
    if more {
        if limit > 0 {
            hits.select_nth_unstable_by(limit - 1, order);
        }
        hits.truncate(limit);
    }
    hits.sort_unstable_by(order);
    (hits, more)
}

/// Everything the collector found.
#[derive(Debug, Default)]
pub(super) struct Matches {
    pub hits: Vec<Hit>,
    pub facets: Vec<(FacetField, HashMap<String, u64>)>,
}

impl Matches {
    /// Buckets per requested facet: largest first, ties by value, at most 50.
    pub fn facet_counts(self) -> Vec<(FacetField, Vec<FacetCount>)> {
        self.facets
            .into_iter()
            .map(|(field, counts)| {
                let mut buckets: Vec<FacetCount> = counts
                    .into_iter()
                    .map(|(value, count)| FacetCount { value, count })
                    .collect();
                buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                buckets.truncate(MAX_BUCKETS);
                (field, buckets)
            })
            .collect()
    }
}

/// Collects all matches keyed for `sort`, counting `facets`.
pub(super) struct MatchCollector {
    pub sort: SortOrder,
    /// Distinct facets, in the order asked.
    pub facets: Vec<FacetField>,
}

/// Where a segment's sort key comes from.
enum KeySource {
    Relevance(Column<u64>),
    Number(Column<i64>),
}

/// A facet's column in one segment and its counts so far.
enum FacetColumn {
    /// Counts per term ordinal; `None` when no document of the segment has the field.
    Terms(Option<StrColumn>, Vec<u64>),
    /// Counts of false and true.
    Flag(Column<bool>, [u64; 2]),
}

pub(super) struct SegmentMatches {
    segment: SegmentOrdinal,
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    key: KeySource,
    facets: Vec<(FacetField, FacetColumn)>,
    hits: Vec<Hit>,
}

impl Collector for MatchCollector {
    type Fruit = Matches;
    type Child = SegmentMatches;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentMatches> {
        let fast = reader.fast_fields();
        let key = match self.sort {
            SortOrder::Relevance => KeySource::Relevance(fast.u64(names::NAME_WORDS)?),
            SortOrder::PriceAscending | SortOrder::PriceDescending => {
                KeySource::Number(fast.i64(names::PRICE)?)
            }
            SortOrder::Newest => KeySource::Number(fast.i64(names::CREATED)?),
            SortOrder::Rating => KeySource::Number(fast.i64(names::RATING)?),
        };
        let mut facets = Vec::with_capacity(self.facets.len());
        for &field in &self.facets {
            let terms = |name: &str| -> tantivy::Result<FacetColumn> {
                let column = fast.str(name)?;
                let slots = column.as_ref().map_or(0, |c| c.num_terms());
                Ok(FacetColumn::Terms(column, vec![0; slots]))
            };
            let column = match field {
                FacetField::Category => terms(names::CATEGORY_IDS)?,
                FacetField::OriginCountry => terms(names::COUNTRY)?,
                FacetField::Vendor => terms(names::VENDOR)?,
                FacetField::Organic => FacetColumn::Flag(fast.bool(names::ORGANIC)?, [0; 2]),
                FacetField::Local => FacetColumn::Flag(fast.bool(names::LOCAL)?, [0; 2]),
            };
            facets.push((field, column));
        }
        Ok(SegmentMatches {
            segment,
            id_hi: fast.u64(names::ID_HI)?,
            id_lo: fast.u64(names::ID_LO)?,
            key,
            facets,
            hits: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort == SortOrder::Relevance
    }

    fn merge_fruits(&self, segments: Vec<Matches>) -> tantivy::Result<Matches> {
        let mut merged = Matches {
            hits: Vec::new(),
            facets: self.facets.iter().map(|&f| (f, HashMap::new())).collect(),
        };
        for segment in segments {
            merged.hits.extend(segment.hits);
            for ((_, into), (_, from)) in merged.facets.iter_mut().zip(segment.facets) {
                for (value, count) in from {
                    *into.entry(value).or_default() += count;
                }
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for SegmentMatches {
    type Fruit = Matches;

    fn collect(&mut self, doc: DocId, score: Score) {
        let key = match &self.key {
            KeySource::Relevance(words) => relevance_key(score, words.first(doc).unwrap_or(0)),
            KeySource::Number(column) => column.first(doc).unwrap_or(0),
        };
        let id = Uuid::from_u64_pair(
            self.id_hi.first(doc).unwrap_or(0),
            self.id_lo.first(doc).unwrap_or(0),
        );
        self.hits.push(Hit {
            key,
            id,
            address: DocAddress::new(self.segment, doc),
        });
        for (_, column) in &mut self.facets {
            match column {
                FacetColumn::Terms(Some(terms), counts) => {
                    for ord in terms.term_ords(doc) {
                        if let Some(count) = counts.get_mut(ord as usize) {
                            *count += 1;
                        }
                    }
                }
                FacetColumn::Terms(None, _) => {}
                FacetColumn::Flag(flags, counts) => {
                    if let Some(flag) = flags.first(doc) {
                        counts[usize::from(flag)] += 1;
                    }
                }
            }
        }
    }

    fn harvest(self) -> Matches {
        let facets = self
            .facets
            .into_iter()
            .map(|(field, column)| {
                let mut named = HashMap::new();
                match column {
                    FacetColumn::Terms(Some(terms), counts) => {
                        let mut value = String::new();
                        for (ord, count) in counts.into_iter().enumerate() {
                            // A failed dictionary read drops the bucket rather than the
                            // whole search; it cannot happen on an in-memory index.
                            if count > 0
                                && terms.ord_to_str(ord as u64, &mut value).unwrap_or(false)
                            {
                                named.insert(value.clone(), count);
                            }
                        }
                    }
                    FacetColumn::Terms(None, _) => {}
                    FacetColumn::Flag(_, [no, yes]) => {
                        for (value, count) in [("false", no), ("true", yes)] {
                            if count > 0 {
                                named.insert(value.to_owned(), count);
                            }
                        }
                    }
                }
                (field, named)
            })
            .collect();
        Matches {
            hits: self.hits,
            facets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(key: i64, id: u128) -> Hit {
        Hit {
            key,
            id: Uuid::from_u128(id),
            address: DocAddress::new(0, 0),
        }
    }

    #[test]
    fn relevance_keys_follow_scores_then_favour_shorter_names() {
        assert!(relevance_key(10.6, 9) > relevance_key(10.59, 1));
        assert!(relevance_key(10.6, 1) > relevance_key(10.6, 2));
        assert!(relevance_key(0.0, 0) >= 0);
        assert_eq!(
            relevance_key(10.0 + 0.6 + 0.4, 2),
            relevance_key(0.4 + 0.6 + 10.0, 2),
            "the order of additions does not change the key"
        );
    }

    #[test]
    fn equal_keys_are_ordered_by_id_in_every_direction() {
        for sort in [SortOrder::PriceAscending, SortOrder::Newest] {
            assert!(compare(sort, (5, Uuid::from_u128(1)), (5, Uuid::from_u128(2))).is_lt());
        }
        assert!(
            compare(
                SortOrder::PriceAscending,
                (1, Uuid::nil()),
                (2, Uuid::nil())
            )
            .is_lt()
        );
        assert!(
            compare(
                SortOrder::PriceDescending,
                (1, Uuid::nil()),
                (2, Uuid::nil())
            )
            .is_gt()
        );
    }

    #[test]
    fn a_page_starts_right_after_the_cursor_and_says_whether_more_follow() {
        let hits = vec![hit(3, 1), hit(1, 2), hit(2, 3), hit(2, 4), hit(5, 5)];
        let (first, more) = page(hits.clone(), SortOrder::PriceAscending, None, 2);
        assert_eq!(first, [hit(1, 2), hit(2, 3)]);
        assert!(more);
        let cursor = SearchCursor {
            key: 2,
            id: Uuid::from_u128(3),
        };
        let (second, more) = page(hits.clone(), SortOrder::PriceAscending, Some(&cursor), 2);
        assert_eq!(second, [hit(2, 4), hit(3, 1)]);
        assert!(more);
        let cursor = SearchCursor {
            key: 3,
            id: Uuid::from_u128(1),
        };
        let (last, more) = page(hits, SortOrder::PriceAscending, Some(&cursor), 2);
        assert_eq!(last, [hit(5, 5)]);
        assert!(!more);
    }

    #[test]
    fn a_cursor_of_a_vanished_hit_still_places_the_page() {
        let hits = vec![hit(10, 1), hit(20, 2), hit(30, 3)];
        // The hit (20, 9) was on the previous page and has since been deleted.
        let cursor = SearchCursor {
            key: 20,
            id: Uuid::from_u128(9),
        };
        let (next, more) = page(hits, SortOrder::Newest, Some(&cursor), 10);
        assert_eq!(next, [hit(10, 1)]);
        assert!(!more);
    }
}
