//! The index layout: which product fields are indexed how, and the analyzer shared by
//! documents and queries so both split and fold text the same way.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, TantivyDocument, Term};
use uuid::Uuid;

use crate::domain::{CategoryTree, Product};

/// Name under which [`analyzer`] is registered with the index.
const ANALYZER: &str = "mandi_text";

/// Words longer than this are dropped; nobody types them and they bloat the dictionary.
const MAX_WORD: usize = 40;

/// Reviews above this many stop counting in the rating sort key (keeps the key exact).
const MAX_RATING_COUNT: i64 = 999_999_999;

/// Splits text on anything but letters and digits, lower-cases and folds accents
/// ("Jalapeño" → "jalapeno").
pub(super) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The words of `text` as the index sees them.
pub(super) fn words(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while stream.advance() {
        words.push(stream.token().text.clone());
    }
    words
}

/// The sort key of a rating: average first, review count second.
pub(super) fn rating_key(average_x100: i32, count: i64) -> i64 {
    i64::from(average_x100) * (MAX_RATING_COUNT + 1) + count.clamp(0, MAX_RATING_COUNT)
}

/// Handles of every field, resolved once.
#[derive(Clone, Copy)]
pub(super) struct Fields {
    /// Hyphenated id: the term deletes and replacements name.
    pub id: Field,
    /// High and low halves of the id, read per match without touching the doc store.
    pub id_hi: Field,
    /// See `id_hi`.
    pub id_lo: Field,
    /// Display name, analyzed; stored for suggestions.
    pub name: Field,
    /// The name's words joined by single spaces: whole-name and starts-with matches.
    pub name_exact: Field,
    /// Number of words in the name: shorter names win relevance ties.
    pub name_words: Field,
    /// Tags, category and ancestor names, origin country and region, analyzed.
    pub keywords: Field,
    /// Description, analyzed.
    pub description: Field,
    /// Unit price in minor units.
    pub price: Field,
    /// Creation time, Unix milliseconds.
    pub created: Field,
    /// [`rating_key`].
    pub rating: Field,
    /// Certified organic.
    pub organic: Field,
    /// Grown locally.
    pub local: Field,
    /// Months in season, 1..=12; all twelve for all-year produce.
    pub months: Field,
    /// The category and all its ancestors, hyphenated ids.
    pub category_ids: Field,
    /// The owning vendor's id, verbatim.
    pub vendor: Field,
    /// ISO country code, absent when unknown.
    pub country: Field,
    /// Tags verbatim (lower case), for exact tag filters.
    pub tags: Field,
}

/// Fast-field names the collector reads by name.
pub(super) mod names {
    pub const ID_HI: &str = "id_hi";
    pub const ID_LO: &str = "id_lo";
    pub const NAME_WORDS: &str = "name_words";
    pub const PRICE: &str = "price";
    pub const CREATED: &str = "created";
    pub const RATING: &str = "rating";
    pub const ORGANIC: &str = "organic";
    pub const LOCAL: &str = "local";
    pub const CATEGORY_IDS: &str = "category_ids";
    pub const VENDOR: &str = "vendor";
    pub const COUNTRY: &str = "country";
}

impl Fields {
    /// A fresh in-memory index with the catalog schema and its analyzer registered.
    pub(super) fn create_index() -> (Index, Fields) {
        let mut builder = Schema::builder();
        // Matches are scored by constant weights (see `query`), so no frequencies,
        // positions or norms: smaller postings and scores that never drift.
        let text = |stored: bool| {
            let options = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            );
            if stored {
                options.set_stored()
            } else {
                options
            }
        };
        let fields = Fields {
            id: builder.add_text_field("id", STRING),
            id_hi: builder.add_u64_field(names::ID_HI, FAST),
            id_lo: builder.add_u64_field(names::ID_LO, FAST),
            name: builder.add_text_field("name", text(true)),
            name_exact: builder.add_text_field("name_exact", STRING),
            name_words: builder.add_u64_field(names::NAME_WORDS, FAST),
            keywords: builder.add_text_field("keywords", text(false)),
            description: builder.add_text_field("description", text(false)),
            price: builder.add_i64_field(names::PRICE, INDEXED | FAST),
            created: builder.add_i64_field(names::CREATED, FAST),
            rating: builder.add_i64_field(names::RATING, FAST),
            organic: builder.add_bool_field(names::ORGANIC, INDEXED | FAST),
            local: builder.add_bool_field(names::LOCAL, INDEXED | FAST),
            months: builder.add_u64_field("months", INDEXED),
            category_ids: builder.add_text_field(names::CATEGORY_IDS, STRING | FAST),
            vendor: builder.add_text_field(names::VENDOR, STRING | FAST),
            country: builder.add_text_field(names::COUNTRY, STRING | FAST),
            tags: builder.add_text_field("tags", STRING),
        };
        let index = Index::create_in_ram(builder.build());
        index.tokenizers().register(ANALYZER, analyzer());
        (index, fields)
    }

    /// The term that names one product's document.
    pub(super) fn id_term(&self, id: Uuid) -> Term {
        Term::from_field_text(self.id, &id.to_string())
    }

    /// The document for `product`, with category names and ancestors from `tree`.
    pub(super) fn document(&self, product: &Product, tree: &CategoryTree) -> TantivyDocument {
        let input = &product.input;
        let mut doc = TantivyDocument::new();
        doc.add_text(self.id, product.id.to_string());
        let (hi, lo) = product.id.as_u64_pair();
        doc.add_u64(self.id_hi, hi);
        doc.add_u64(self.id_lo, lo);

        let name_words = words(&input.display_name);
        doc.add_text(self.name, &input.display_name);
        doc.add_text(self.name_exact, name_words.join(" "));
        doc.add_u64(self.name_words, name_words.len() as u64);
        doc.add_text(self.description, &input.description);
        for tag in &input.tags {
            doc.add_text(self.keywords, tag);
            doc.add_text(self.tags, tag.to_lowercase());
        }
        let mut categories = tree.ancestors(input.category_id);
        categories.push(input.category_id);
        for id in categories {
            doc.add_text(self.category_ids, id.to_string());
            if let Some(category) = tree.get(id) {
                doc.add_text(self.keywords, &category.fields.display_name);
            }
        }
        let origin = &input.origin;
        if !origin.country_code.is_empty() {
            doc.add_text(self.keywords, &origin.country_code);
            doc.add_text(self.country, origin.country_code.to_uppercase());
        }
        if !origin.region.is_empty() {
            doc.add_text(self.keywords, &origin.region);
        }

        doc.add_i64(self.price, input.price.0);
        doc.add_i64(self.created, product.created_at.timestamp_millis());
        doc.add_i64(
            self.rating,
            rating_key(product.rating.average_x100(), product.rating.count),
        );
        doc.add_bool(self.organic, input.organic);
        doc.add_bool(self.local, origin.local);
        let mut months: Vec<u8> = if input.season_months.is_empty() {
            (1..=12).collect()
        } else {
            input.season_months.clone()
        };
        months.sort_unstable();
        months.dedup();
        for month in months {
            doc.add_u64(self.months, u64::from(month));
        }
        doc.add_text(self.vendor, &input.vendor_id);
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_case_accent_free_and_split_on_punctuation() {
        assert_eq!(
            words("Jalapeño Chillies (Hot!)"),
            ["jalapeno", "chillies", "hot"]
        );
        assert_eq!(words("  "), Vec::<String>::new());
    }

    #[test]
    fn the_rating_key_orders_by_average_then_count() {
        assert!(rating_key(450, 3) > rating_key(449, 1_000_000));
        assert!(rating_key(450, 4) > rating_key(450, 3));
        assert_eq!(rating_key(0, 0), 0);
        assert_eq!(
            rating_key(500, i64::MAX),
            rating_key(500, MAX_RATING_COUNT),
            "huge counts saturate instead of spilling into the average"
        );
    }
}
