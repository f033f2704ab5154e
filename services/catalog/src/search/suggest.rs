//! Search-as-you-type completions: product names and category names whose words start
//! with what was typed.

use std::collections::HashSet;

use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Searcher, TantivyDocument, Term};
use uuid::Uuid;

use super::collect::{self, MatchCollector};
use super::query::{self, WordMatch};
use super::schema::{self, Fields};
use super::{SortOrder, Suggestion};

/// Stored names read per call at most: many products may share a name.
const MAX_READS_PER_SUGGESTION: usize = 20;

/// A category as suggestions need it.
#[derive(Debug, Clone)]
pub(super) struct CategoryName {
    pub id: Uuid,
    pub name: String,
    pub words: Vec<String>,
}

impl CategoryName {
    pub(super) fn new(id: Uuid, name: &str) -> Self {
        Self {
            id,
            name: name.to_owned(),
            words: schema::words(name),
        }
    }
}

/// A completion and what ranks it.
struct Candidate {
    /// The name starts with the typed text (not just one of its later words).
    starts: bool,
    words: usize,
    /// Categories before products of the same rank: a broader completion.
    product: bool,
    /// Products in a category; 0 for products (they keep the index's order).
    popularity: u64,
    suggestion: Suggestion,
}

/// Up to `limit` completions for `typed`, best first.
pub(super) fn suggest(
    searcher: &Searcher,
    fields: &Fields,
    categories: &[CategoryName],
    typed: &str,
    limit: usize,
) -> tantivy::Result<Vec<Suggestion>> {
    let words = schema::words(typed);
    if words.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let joined = words.join(" ");
    let mut candidates = products(searcher, fields, &words, &joined, limit)?;
    for category in categories.iter().filter(|c| completes(&c.words, &words)) {
        let term = Term::from_field_text(fields.category_ids, &category.id.to_string());
        let products = searcher.search(&TermQuery::new(term, IndexRecordOption::Basic), &Count)?;
        // A category with nothing on sale would lead to an empty result page.
        if products == 0 {
            continue;
        }
        candidates.push(Candidate {
            starts: category.words.join(" ").starts_with(&joined),
            words: category.words.len(),
            product: false,
            popularity: products as u64,
            suggestion: Suggestion {
                text: category.name.clone(),
                product_id: None,
                category_id: Some(category.id),
            },
        });
    }
    // Stable: products keep the index's order among equals.
    candidates.sort_by(|a, b| {
        b.starts
            .cmp(&a.starts)
            .then(a.words.cmp(&b.words))
            .then(a.product.cmp(&b.product))
            .then(b.popularity.cmp(&a.popularity))
    });
    let mut seen = HashSet::new();
    Ok(candidates
        .into_iter()
        .filter(|c| seen.insert(c.suggestion.text.to_lowercase()))
        .take(limit)
        .map(|c| c.suggestion)
        .collect())
}

/// Products whose names hold every typed word, the last one possibly unfinished, best
/// first and one per distinct name.
fn products(
    searcher: &Searcher,
    fields: &Fields,
    words: &[String],
    joined: &str,
    limit: usize,
) -> tantivy::Result<Vec<Candidate>> {
    let Some((last, earlier)) = words.split_last() else {
        return Ok(Vec::new());
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = earlier
        .iter()
        .map(|word| {
            let query = query::word_in_field(fields.name, word, WordMatch::Whole, 1.0);
            (Occur::Must, query)
        })
        .collect();
    let started = FuzzyTermQuery::new_prefix(Term::from_field_text(fields.name, last), 0, true);
    clauses.push((
        Occur::Must,
        Box::new(ConstScoreQuery::new(Box::new(started), 1.0)),
    ));
    clauses.extend(query::name_bonuses(fields, words));
    let collector = MatchCollector {
        sort: SortOrder::Relevance,
        facets: Vec::new(),
    };
    let mut hits = searcher
        .search(&BooleanQuery::new(clauses), &collector)?
        .hits;
    hits.sort_unstable_by(|a, b| {
        collect::compare(SortOrder::Relevance, (a.key, a.id), (b.key, b.id))
    });

    let mut names = HashSet::new();
    let mut found = Vec::new();
    for hit in hits.iter().take(limit * MAX_READS_PER_SUGGESTION) {
        let doc: TantivyDocument = searcher.doc(hit.address)?;
        let Some(name) = doc.get_first(fields.name).and_then(|v| v.as_str()) else {
            continue;
        };
        let name_words = schema::words(name);
        let normalized = name_words.join(" ");
        if !names.insert(normalized.clone()) {
            continue;
        }
        found.push(Candidate {
            starts: normalized.starts_with(joined),
            words: name_words.len(),
            product: true,
            popularity: 0,
            suggestion: Suggestion {
                text: name.to_owned(),
                product_id: Some(hit.id),
                category_id: None,
            },
        });
        if found.len() == limit {
            break;
        }
    }
    Ok(found)
}

/// Whether a name of `words` completes `typed`: every typed word but the last matches a
/// word within the typo budget, the last starts a word.
fn completes(words: &[String], typed: &[String]) -> bool {
    let Some((last, earlier)) = typed.split_last() else {
        return false;
    };
    words.iter().any(|word| word.starts_with(last.as_str()))
        && earlier.iter().all(|typed| {
            let budget = usize::from(query::typo_budget(typed));
            words.iter().any(|word| edits(word, typed) <= budget)
        })
}

/// Edit distance counting a swap of neighbours as one edit (optimal string alignment),
/// as the index's typo matching does.
fn edits(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        schema::words(text)
    }

    #[test]
    fn swapped_letters_are_one_edit() {
        assert_eq!(edits("mango", "mnago"), 1);
        assert_eq!(edits("banana", "bananna"), 1);
        assert_eq!(edits("leafy", "leafy"), 0);
        assert_eq!(edits("", "kale"), 4);
    }

    #[test]
    fn a_category_completes_typed_words_with_an_unfinished_last_word() {
        let name = words("Tropical Fruits");
        assert!(completes(&name, &words("trop")));
        assert!(
            completes(&name, &words("Tropicla fru")),
            "typo in a finished word"
        );
        assert!(completes(&name, &words("fru")));
        assert!(!completes(&name, &words("ropical")));
        assert!(!completes(&name, &words("citrus fru")));
    }
}
