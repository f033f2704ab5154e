//! Turns a request into a tantivy query: typo-tolerant text matching with constant,
//! field-weighted scores, and the filters.
//!
//! Every clause scores a constant instead of BM25. A document's relevance is then a
//! function of the query and the document alone, not of corpus statistics, so it does not
//! move when other products are added or removed: keyset pages over relevance stay stable.

use std::ops::Bound;

use chrono::{DateTime, Datelike, Utc};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery, Occur, Query,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::SearchFilter;
use super::schema::Fields;

/// Weight of a word found in the name, the keywords (tags, categories, origin) and the
/// description.
const NAME: f32 = 10.0;
const KEYWORDS: f32 = 4.0;
const DESCRIPTION: f32 = 2.0;

/// Share of a field's weight for an exact word, a completed prefix and a typo.
const EXACT: f32 = 1.0;
const PREFIX: f32 = 0.6;
const FUZZY: f32 = 0.4;

/// Share of the weaker fields' scores added to the best one: a word found in the name and
/// the tags beats a word found in the name only.
const TIE_BREAKER: f32 = 0.1;

/// Bonus when the whole name equals the query, and when the name starts with it. Larger
/// than any sum of word scores, so an exact name always ranks first.
const WHOLE_NAME: f32 = 1000.0;
const NAME_STARTS: f32 = 50.0;

/// Edits allowed for a typed word: none up to 3 characters (too many short words are one
/// edit apart), one up to 7, two beyond. A transposition counts as one edit.
pub(super) fn typo_budget(word: &str) -> u8 {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// How one typed word may match a term of a field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum WordMatch {
    /// Exact or within the typo budget.
    Whole,
    /// Also as the start of a longer word (the word being typed).
    WholeOrPrefix,
}

fn constant(query: impl Query, score: f32) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(Box::new(query), score))
}

/// The best way `word` matches in `field`, scored `weight` × its share.
pub(super) fn word_in_field(
    field: Field,
    word: &str,
    how: WordMatch,
    weight: f32,
) -> Box<dyn Query> {
    let term = Term::from_field_text(field, word);
    let mut ways = vec![constant(
        TermQuery::new(term.clone(), IndexRecordOption::Basic),
        weight * EXACT,
    )];
    if how == WordMatch::WholeOrPrefix {
        ways.push(constant(
            FuzzyTermQuery::new_prefix(term.clone(), 0, true),
            weight * PREFIX,
        ));
    }
    let budget = typo_budget(word);
    if budget > 0 {
        ways.push(constant(
            FuzzyTermQuery::new(term, budget, true),
            weight * FUZZY,
        ));
    }
    Box::new(DisjunctionMaxQuery::new(ways))
}

/// Documents where every word matches in some text field; the last word may be a prefix.
/// No words matches everything.
pub(super) fn text(fields: &Fields, words: &[String]) -> Box<dyn Query> {
    if words.is_empty() {
        return Box::new(AllQuery);
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .enumerate()
        .map(|(position, word)| {
            let how = if position + 1 == words.len() {
                WordMatch::WholeOrPrefix
            } else {
                WordMatch::Whole
            };
            let per_field = vec![
                word_in_field(fields.name, word, how, NAME),
                word_in_field(fields.keywords, word, how, KEYWORDS),
                word_in_field(fields.description, word, how, DESCRIPTION),
            ];
            let any_field: Box<dyn Query> = Box::new(DisjunctionMaxQuery::with_tie_breaker(
                per_field,
                TIE_BREAKER,
            ));
            (Occur::Must, any_field)
        })
        .collect();
    clauses.extend(name_bonuses(fields, words));
    Box::new(BooleanQuery::new(clauses))
}

/// Optional clauses rewarding a name equal to, or starting with, the typed words.
pub(super) fn name_bonuses(fields: &Fields, words: &[String]) -> Vec<(Occur, Box<dyn Query>)> {
    let typed = Term::from_field_text(fields.name_exact, &words.join(" "));
    vec![
        (
            Occur::Should,
            constant(
                TermQuery::new(typed.clone(), IndexRecordOption::Basic),
                WHOLE_NAME,
            ),
        ),
        (
            Occur::Should,
            constant(FuzzyTermQuery::new_prefix(typed, 0, false), NAME_STARTS),
        ),
    ]
}

/// Filter clauses, each scoring nothing.
pub(super) fn filters(
    fields: &Fields,
    filter: &SearchFilter,
    now: DateTime<Utc>,
) -> Vec<(Occur, Box<dyn Query>)> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut require = |occur: Occur, query: Box<dyn Query>| {
        clauses.push((occur, Box::new(ConstScoreQuery::new(query, 0.0))));
    };
    let term =
        |term: Term| -> Box<dyn Query> { Box::new(TermQuery::new(term, IndexRecordOption::Basic)) };

    if let Some(category) = filter.category {
        require(
            Occur::Must,
            term(Term::from_field_text(
                fields.category_ids,
                &category.to_string(),
            )),
        );
    }
    if filter.min_price.is_some() || filter.max_price.is_some() {
        let bound = |price: Option<crate::domain::Minor>| match price {
            Some(price) => Bound::Included(Term::from_field_i64(fields.price, price.0)),
            None => Bound::Unbounded,
        };
        require(
            Occur::Must,
            Box::new(RangeQuery::new(
                bound(filter.min_price),
                bound(filter.max_price),
            )),
        );
    }
    if let Some(organic) = filter.organic {
        require(
            Occur::Must,
            term(Term::from_field_bool(fields.organic, organic)),
        );
    }
    if let Some(local) = filter.local {
        require(
            Occur::Must,
            term(Term::from_field_bool(fields.local, local)),
        );
    }
    if let Some(in_season) = filter.in_season {
        let month = term(Term::from_field_u64(fields.months, u64::from(now.month())));
        require(
            if in_season {
                Occur::Must
            } else {
                Occur::MustNot
            },
            month,
        );
    }
    if !filter.origin_countries.is_empty() {
        let codes = filter
            .origin_countries
            .iter()
            .map(|code| Term::from_field_text(fields.country, &code.to_uppercase()));
        require(Occur::Must, Box::new(TermSetQuery::new(codes)));
    }
    if let Some(vendor) = &filter.vendor_id {
        require(
            Occur::Must,
            term(Term::from_field_text(fields.vendor, vendor)),
        );
    }
    for tag in &filter.tags {
        require(
            Occur::Must,
            term(Term::from_field_text(fields.tags, &tag.to_lowercase())),
        );
    }
    clauses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_words_get_no_typos_and_long_words_two() {
        assert_eq!(typo_budget("pea"), 0);
        assert_eq!(typo_budget("okra"), 1);
        assert_eq!(typo_budget("bananna"), 1);
        assert_eq!(typo_budget("alphonso"), 2);
        assert_eq!(typo_budget("ñandú"), 1, "characters, not bytes");
    }
}
