//! Search relevance, filters, facets, paging and suggestions of the embedded index, over a
//! deterministic synthetic catalog, checked against brute force over the same products.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use mandi_catalog::domain::{
    Category, CategoryTree, Minor, NewCategory, Origin, Product, ProductInput, ProductStatus,
    RatingSummary, StorageCondition, UnitOfSale, slugify,
};
use mandi_catalog::search::{
    FacetCount, FacetField, SearchFilter, SearchIndex, SearchRequest, SearchResults, SortOrder,
};
use uuid::Uuid;

const ALL_FACETS: [FacetField; 5] = [
    FacetField::Category,
    FacetField::OriginCountry,
    FacetField::Organic,
    FacetField::Local,
    FacetField::Vendor,
];

const ALL_SORTS: [SortOrder; 5] = [
    SortOrder::Relevance,
    SortOrder::PriceAscending,
    SortOrder::PriceDescending,
    SortOrder::Newest,
    SortOrder::Rating,
];

/// Mid-May: mangoes are in season, oranges are not.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 15, 12, 0, 0).unwrap()
}

// === the synthetic catalog ===

/// A small deterministic generator (xorshift64*), so every run sees the same catalog.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

struct Catalog {
    tree: CategoryTree,
    categories: HashMap<&'static str, Uuid>,
    products: Vec<Product>,
}

fn category(name: &str, parent: Option<Uuid>) -> Category {
    Category {
        id: Uuid::now_v7(),
        fields: NewCategory {
            display_name: name.into(),
            slug: slugify(name),
            parent_id: parent,
            description: String::new(),
            image_url: String::new(),
            sort_order: 0,
        },
        created_at: now(),
        updated_at: now(),
    }
}

/// Leaf categories with the produce sold in them.
const LEAVES: &[(&str, &str, &[&str])] = &[
    (
        "Fruits",
        "Tropical",
        &["Papaya", "Pineapple", "Guava", "Jackfruit", "Coconut"],
    ),
    (
        "Fruits",
        "Citrus",
        &["Nagpur Orange", "Sweet Lime", "Kinnow", "Lemon"],
    ),
    (
        "Fruits",
        "Berries",
        &["Strawberry", "Blueberry", "Mulberry", "Jamun"],
    ),
    (
        "Vegetables",
        "Leafy Greens",
        &["Spinach", "Fenugreek", "Coriander", "Amaranth"],
    ),
    (
        "Vegetables",
        "Roots",
        &["Carrot", "Beetroot", "Radish", "Sweet Potato"],
    ),
    (
        "Vegetables",
        "Gourds",
        &["Bottle Gourd", "Bitter Gourd", "Ridge Gourd", "Pumpkin"],
    ),
    ("Dairy", "Milk", &["Cow Milk", "Buffalo Milk", "Toned Milk"]),
    (
        "Dry Fruits",
        "Nuts",
        &["Almonds", "Cashews", "Walnuts", "Pistachios"],
    ),
];

const ADJECTIVES: &[&str] = &[
    "Fresh", "Premium", "Farm", "Select", "Village", "Hill", "Classic",
];
const PAIRINGS: &[&str] = &["banana", "tomato", "mango", "honey", "jaggery", "lime"];
const TAGS: &[&str] = &["seasonal", "bestseller", "export", "pesticide-free", "gift"];
const COUNTRIES: &[&str] = &["IN", "IN", "IN", "IN", "NP", "LK", "BD", "AF", ""];
const REGIONS: &[&str] = &["Ratnagiri", "Nashik", "Kashmir", "Kerala", "Punjab", ""];
const VENDORS: &[&str] = &["vendor-1", "vendor-2", "vendor-3", "vendor-4", "vendor-5"];

impl Catalog {
    /// About 200 products: a few hand-named ones the relevance tests look for, and
    /// generated ones with every flag, price, month, tag, vendor and country mixed.
    fn new(generated: usize) -> Self {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let mut all = Vec::new();
        let mut categories = HashMap::new();
        for root in ["Fruits", "Vegetables", "Dairy", "Dry Fruits", "Pantry"] {
            let c = category(root, None);
            categories.insert(root, c.id);
            all.push(c);
        }
        for (root, leaf, _) in LEAVES {
            let c = category(leaf, Some(categories[root]));
            categories.insert(*leaf, c.id);
            all.push(c);
        }
        let tree = CategoryTree::new(all);
        let mut catalog = Self {
            tree,
            categories,
            products: Vec::new(),
        };

        let named: &[(&str, &str, &str)] = &[
            (
                "Alphonso Mango",
                "Tropical",
                "GI-tagged mangoes from Ratnagiri.",
            ),
            ("Mango", "Tropical", "Ripe, sweet and juicy."),
            (
                "Mango Pickle Mix",
                "Pantry",
                "Raw mango pieces in mustard oil.",
            ),
            (
                "Banana Robusta",
                "Tropical",
                "Long yellow bananas for the table.",
            ),
            (
                "Banana Robusta",
                "Tropical",
                "The same variety from another farm.",
            ),
            (
                "Tomato Hybrid",
                "Vegetables",
                "Firm red tomatoes for curries.",
            ),
        ];
        for (name, leaf, description) in named {
            let category = catalog.categories[leaf];
            let product = catalog.product(&mut rng, name, description, category);
            catalog.products.push(product);
        }
        for i in 0..generated {
            let (_, leaf, bases) = LEAVES[rng.below(LEAVES.len() as u64) as usize];
            let base = rng.pick(bases);
            let name = format!("{} {base}", rng.pick(ADJECTIVES));
            let description = format!(
                "Lot {i}: {base} picked this week. Pairs well with {}.",
                rng.pick(PAIRINGS)
            );
            let category = catalog.categories[leaf];
            let product = catalog.product(&mut rng, &name, &description, category);
            catalog.products.push(product);
        }
        catalog
    }

    fn product(&self, rng: &mut Rng, name: &str, description: &str, category: Uuid) -> Product {
        let n = self.products.len() as i64;
        let country = rng.pick(COUNTRIES);
        let season_months = match rng.below(3) {
            0 => Vec::new(),
            _ => {
                let start = rng.below(12) as u8;
                (0..3 + rng.below(3) as u8)
                    .map(|k| (start + k) % 12 + 1)
                    .collect()
            }
        };
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..rng.below(4) {
            let tag = rng.pick(TAGS).to_owned();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let count = rng.below(40) as i64;
        let status = match rng.below(20) {
            0 => ProductStatus::Draft,
            1 => ProductStatus::Archived,
            _ => ProductStatus::Active,
        };
        // Few distinct prices and shared creation times, so sort keys tie often.
        let price = Minor(500 * (1 + rng.below(60) as i64));
        let created_at = now() - Duration::days(30) + Duration::minutes(n / 2);
        Product {
            id: Uuid::now_v7(),
            input: ProductInput {
                display_name: name.into(),
                slug: slugify(name),
                description: description.into(),
                category_id: category,
                vendor_id: rng.pick(VENDORS).into(),
                unit_of_sale: UnitOfSale::Kilogram,
                price,
                compare_at_price: None,
                min_quantity: 0,
                max_quantity: 0,
                quantity_step: 0,
                unit_weight_grams: 0,
                image_urls: Vec::new(),
                origin: Origin {
                    country_code: country.into(),
                    region: rng.pick(REGIONS).into(),
                    local: rng.below(2) == 0,
                },
                organic: rng.below(3) == 0,
                season_months,
                shelf_life_days: 7,
                storage_condition: StorageCondition::RoomTemperature,
                nutrition: None,
                tags,
                status: if name.contains("Mango")
                    || name.contains("Banana")
                    || name.contains("Tomato")
                {
                    ProductStatus::Active
                } else {
                    status
                },
            },
            rating: RatingSummary {
                count,
                sum: count * (1 + rng.below(5) as i64),
            },
            created_at,
            updated_at: created_at,
            version: 1,
        }
    }

    fn indexed(&self) -> SearchIndex {
        let index = SearchIndex::new().unwrap();
        index.rebuild(&self.products, &self.tree).unwrap();
        index
    }

    fn product_by_id(&self, id: Uuid) -> &Product {
        self.products.iter().find(|p| p.id == id).unwrap()
    }

    fn name(&self, id: Uuid) -> &str {
        &self.product_by_id(id).input.display_name
    }

    fn with_name(&self, name: &str) -> &Product {
        self.products
            .iter()
            .find(|p| p.input.display_name == name)
            .unwrap()
    }

    /// The product's category and its ancestors.
    fn category_path(&self, product: &Product) -> Vec<Uuid> {
        let mut path = self.tree.ancestors(product.input.category_id);
        path.push(product.input.category_id);
        path
    }
}

// === brute force: the semantics the index must match ===

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Edits between two words, a swap of neighbours counting as one.
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i][j] = if i == 0 || j == 0 {
                i + j
            } else {
                let mut best = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]));
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(d[i - 2][j - 2] + 1);
                }
                best
            };
        }
    }
    d[a.len()][b.len()]
}

fn typo_budget(word: &str) -> usize {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

fn matches_text(catalog: &Catalog, product: &Product, query: &str) -> bool {
    let input = &product.input;
    let mut text = vec![input.display_name.clone(), input.description.clone()];
    text.extend(input.tags.iter().cloned());
    text.push(input.origin.country_code.clone());
    text.push(input.origin.region.clone());
    for id in catalog.category_path(product) {
        text.push(catalog.tree.get(id).unwrap().fields.display_name.clone());
    }
    let indexed: Vec<String> = text.iter().flat_map(|t| words(t)).collect();
    let typed = words(query);
    typed.iter().enumerate().all(|(i, word)| {
        let last = i + 1 == typed.len();
        indexed.iter().any(|have| {
            have == word
                || (last && have.starts_with(word.as_str()))
                || edits(have, word) <= typo_budget(word)
        })
    })
}

fn matches_filter(catalog: &Catalog, product: &Product, filter: &SearchFilter) -> bool {
    let input = &product.input;
    input.status == ProductStatus::Active
        && filter
            .category
            .is_none_or(|c| catalog.category_path(product).contains(&c))
        && filter.min_price.is_none_or(|min| input.price >= min)
        && filter.max_price.is_none_or(|max| input.price <= max)
        && filter.organic.is_none_or(|o| input.organic == o)
        && filter.local.is_none_or(|l| input.origin.local == l)
        && filter
            .in_season
            .is_none_or(|s| product.in_season(now()) == s)
        && (filter.origin_countries.is_empty()
            || filter
                .origin_countries
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&input.origin.country_code)))
        && filter
            .vendor_id
            .as_ref()
            .is_none_or(|v| &input.vendor_id == v)
        && filter.tags.iter().all(|t| input.tags.contains(t))
}

fn expected_facets(catalog: &Catalog, matching: &[&Product]) -> Vec<(FacetField, Vec<FacetCount>)> {
    ALL_FACETS
        .iter()
        .map(|&field| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for product in matching {
                let input = &product.input;
                let values: Vec<String> = match field {
                    FacetField::Category => catalog
                        .category_path(product)
                        .iter()
                        .map(Uuid::to_string)
                        .collect(),
                    FacetField::OriginCountry if input.origin.country_code.is_empty() => vec![],
                    FacetField::OriginCountry => vec![input.origin.country_code.clone()],
                    FacetField::Organic => vec![input.organic.to_string()],
                    FacetField::Local => vec![input.origin.local.to_string()],
                    FacetField::Vendor => vec![input.vendor_id.clone()],
                };
                for value in values {
                    *counts.entry(value).or_default() += 1;
                }
            }
            let mut buckets: Vec<FacetCount> = counts
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect();
            buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            buckets.truncate(50);
            (field, buckets)
        })
        .collect()
}

/// The sort key of a product as the brute force sees it, larger = earlier except for
/// ascending price.
fn brute_key(product: &Product, sort: SortOrder) -> i64 {
    match sort {
        SortOrder::PriceAscending | SortOrder::PriceDescending => product.input.price.0,
        SortOrder::Newest => product.created_at.timestamp_millis(),
        SortOrder::Rating => {
            i64::from(product.rating.average_x100()) * 1_000_000_000 + product.rating.count
        }
        SortOrder::Relevance => 0,
    }
}

// === helpers ===

fn request(query: &str, filter: SearchFilter, sort: SortOrder, limit: usize) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        filter,
        sort,
        facets: ALL_FACETS.to_vec(),
        limit,
        after: None,
    }
}

fn search(index: &SearchIndex, query: &str) -> SearchResults {
    index
        .search(
            &request(query, SearchFilter::default(), SortOrder::Relevance, 10),
            now(),
        )
        .unwrap()
}

/// Every page of `request`, `page_size` at a time, running `between` after each page.
fn all_pages(
    index: &SearchIndex,
    mut request: SearchRequest,
    mut between: impl FnMut(usize),
) -> Vec<Uuid> {
    let mut seen = Vec::new();
    for page in 0.. {
        let results = index.search(&request, now()).unwrap();
        assert!(results.ids.len() <= request.limit);
        seen.extend(&results.ids);
        between(page);
        match results.next {
            Some(next) => {
                assert_eq!(
                    results.ids.len(),
                    request.limit,
                    "only the last page is short"
                );
                request.after = Some(next);
            }
            None => break,
        }
        assert!(page < 10_000, "paging does not end");
    }
    seen
}

// === relevance ===

#[test]
fn an_exact_name_ranks_first() {
    let catalog = Catalog::new(190);
    let index = catalog.indexed();

    let mango = search(&index, "mango");
    let names: Vec<&str> = mango.ids.iter().map(|id| catalog.name(*id)).collect();
    assert_eq!(names[0], "Mango", "{names:?}");
    assert!(names.contains(&"Mango Pickle Mix"), "{names:?}");
    assert!(names.contains(&"Alphonso Mango"), "{names:?}");

    let alphonso = search(&index, "Alphonso Mango");
    assert_eq!(catalog.name(alphonso.ids[0]), "Alphonso Mango");
    assert_eq!(alphonso.total, 1, "every word must match");
}

#[test]
fn name_matches_outrank_description_matches() {
    let catalog = Catalog::new(190);
    let index = catalog.indexed();

    let results = search(&index, "banana");
    let names: Vec<&str> = results.ids.iter().map(|id| catalog.name(*id)).collect();
    assert_eq!(
        names[..2],
        ["Banana Robusta", "Banana Robusta"],
        "{names:?}"
    );
    assert!(
        results.total > 2,
        "descriptions mentioning banana match too, below the names"
    );
}

#[test]
fn a_typo_still_finds_the_product() {
    let catalog = Catalog::new(190);
    let index = catalog.indexed();

    for (typed, expected) in [
        ("bananna", "Banana Robusta"),
        ("tomatoe", "Tomato Hybrid"),
        ("robutsa", "Banana Robusta"),
        ("alphonzo mango", "Alphonso Mango"),
        ("alphonos", "Alphonso Mango"),
    ] {
        let results = search(&index, typed);
        assert!(!results.ids.is_empty(), "{typed:?} finds nothing");
        assert_eq!(catalog.name(results.ids[0]), expected, "{typed:?}");
    }
}

#[test]
fn every_word_must_match_and_short_words_must_be_spelt_right() {
    let catalog = Catalog::new(190);
    let index = catalog.indexed();
    assert!(
        search(&index, "mngo").total > 0,
        "four letters allow one typo"
    );
    assert_eq!(
        search(&index, "mngo xyz").total,
        0,
        "words combine with AND"
    );
    assert!(search(&index, "cow milk").total > 0);
    assert_eq!(
        search(&index, "cpw milk").total,
        0,
        "three letters allow no typo"
    );
}

#[test]
fn an_unfinished_last_word_finds_by_prefix() {
    let catalog = Catalog::new(190);
    let index = catalog.indexed();

    let results = search(&index, "alph");
    assert_eq!(catalog.name(results.ids[0]), "Alphonso Mango");
    let results = search(&index, "banana rob");
    assert_eq!(catalog.name(results.ids[0]), "Banana Robusta");
    let results = search(&index, "tom");
    assert_eq!(catalog.name(results.ids[0]), "Tomato Hybrid");
}

// === filters and facets ===

#[test]
fn filters_and_facets_agree_with_a_brute_force_count() {
    let catalog = Catalog::new(194);
    let index = catalog.indexed();
    let c = |name: &str| Some(catalog.categories[name]);

    let filters = [
        SearchFilter::default(),
        SearchFilter {
            category: c("Fruits"),
            ..Default::default()
        },
        SearchFilter {
            category: c("Tropical"),
            organic: Some(true),
            ..Default::default()
        },
        SearchFilter {
            min_price: Some(Minor(5_000)),
            max_price: Some(Minor(15_000)),
            ..Default::default()
        },
        SearchFilter {
            max_price: Some(Minor(10_000)),
            local: Some(false),
            ..Default::default()
        },
        SearchFilter {
            in_season: Some(true),
            category: c("Vegetables"),
            ..Default::default()
        },
        SearchFilter {
            in_season: Some(false),
            ..Default::default()
        },
        SearchFilter {
            origin_countries: vec!["np".into(), "LK".into()],
            ..Default::default()
        },
        SearchFilter {
            vendor_id: Some("vendor-3".into()),
            organic: Some(false),
            ..Default::default()
        },
        SearchFilter {
            tags: vec!["seasonal".into(), "export".into()],
            ..Default::default()
        },
        SearchFilter {
            category: c("Dry Fruits"),
            min_price: Some(Minor(1_000)),
            local: Some(true),
            in_season: Some(true),
            origin_countries: vec!["IN".into()],
            vendor_id: Some("vendor-2".into()),
            ..Default::default()
        },
        SearchFilter {
            min_price: Some(Minor(20_000)),
            max_price: Some(Minor(10_000)),
            ..Default::default()
        },
    ];
    let mut nonempty = 0;
    for query in ["", "fresh", "mango", "milk premium", "kerala", "seasonal"] {
        for filter in &filters {
            let matching: Vec<&Product> = catalog
                .products
                .iter()
                .filter(|p| matches_filter(&catalog, p, filter) && matches_text(&catalog, p, query))
                .collect();
            let results = index
                .search(
                    &request(query, filter.clone(), SortOrder::Newest, 1000),
                    now(),
                )
                .unwrap();
            let context = format!("query {query:?}, {filter:?}");
            let found: HashSet<Uuid> = results.ids.iter().copied().collect();
            let expected: HashSet<Uuid> = matching.iter().map(|p| p.id).collect();
            assert_eq!(found, expected, "{context}");
            assert_eq!(results.total, expected.len() as u64, "{context}");
            assert_eq!(
                results.facets,
                expected_facets(&catalog, &matching),
                "{context}"
            );
            nonempty += usize::from(!matching.is_empty());
        }
    }
    assert!(nonempty > 40, "the combinations must exercise real matches");
}

#[test]
fn facets_count_all_matches_not_just_the_page() {
    let catalog = Catalog::new(194);
    let index = catalog.indexed();
    let fruits = catalog.categories["Fruits"].to_string();

    let results = index
        .search(
            &request("", SearchFilter::default(), SortOrder::Newest, 3),
            now(),
        )
        .unwrap();
    assert_eq!(results.ids.len(), 3);
    let (_, categories) = &results.facets[0];
    let fruit_count = categories.iter().find(|b| b.value == fruits).unwrap().count;
    let active_fruits = catalog
        .products
        .iter()
        .filter(|p| {
            p.input.status == ProductStatus::Active
                && catalog
                    .category_path(p)
                    .contains(&catalog.categories["Fruits"])
        })
        .count() as u64;
    assert_eq!(
        fruit_count, active_fruits,
        "parents count their subcategories' products"
    );
    assert!(results.total > 3);
}

// === paging ===

#[test]
fn paging_returns_every_match_once_in_sort_order() {
    let catalog = Catalog::new(194);
    let index = catalog.indexed();

    for query in ["", "fresh", "mango"] {
        for sort in ALL_SORTS {
            let context = format!("query {query:?}, {sort:?}");
            let paged = all_pages(
                &index,
                request(query, SearchFilter::default(), sort, 7),
                |_| {},
            );
            let unique: HashSet<Uuid> = paged.iter().copied().collect();
            assert_eq!(unique.len(), paged.len(), "duplicates: {context}");
            let expected: HashSet<Uuid> = catalog
                .products
                .iter()
                .filter(|p| {
                    matches_filter(&catalog, p, &SearchFilter::default())
                        && matches_text(&catalog, p, query)
                })
                .map(|p| p.id)
                .collect();
            assert_eq!(unique, expected, "{context}");

            // One big page gives the same order as many small ones.
            let whole = index
                .search(
                    &request(query, SearchFilter::default(), sort, 10_000),
                    now(),
                )
                .unwrap();
            assert_eq!(whole.ids, paged, "{context}");
            assert_eq!(whole.next, None);

            if sort != SortOrder::Relevance {
                for pair in paged.windows(2) {
                    let (a, b) = (
                        catalog.product_by_id(pair[0]),
                        catalog.product_by_id(pair[1]),
                    );
                    let (ka, kb) = (brute_key(a, sort), brute_key(b, sort));
                    let in_order = match sort {
                        SortOrder::PriceAscending => ka < kb || (ka == kb && a.id < b.id),
                        _ => ka > kb || (ka == kb && a.id < b.id),
                    };
                    assert!(in_order, "{context}: {:?} before {:?}", a.input, b.input);
                }
            }
        }
    }
}

#[test]
fn products_added_or_removed_between_pages_do_not_disturb_the_others() {
    for (query, sort) in [
        ("", SortOrder::Newest),
        ("", SortOrder::PriceAscending),
        ("fresh", SortOrder::Relevance),
        ("", SortOrder::Rating),
    ] {
        let catalog = Catalog::new(194);
        let index = catalog.indexed();
        let first = index
            .search(
                &request(query, SearchFilter::default(), sort, 10_000),
                now(),
            )
            .unwrap()
            .ids;
        let mut removed = HashSet::new();
        let mut added = HashSet::new();
        let mut rng = Rng(7);

        let paged = all_pages(
            &index,
            request(query, SearchFilter::default(), sort, 9),
            |page| {
                // Remove one product from far ahead, one already seen, and add a new one.
                let ahead = first[(page * 9 + 20).min(first.len() - 1)];
                let behind = first[page * 9 / 2];
                for id in [ahead, behind] {
                    index.remove(id).unwrap();
                    removed.insert(id);
                }
                let template =
                    catalog.products[rng.below(catalog.products.len() as u64) as usize].clone();
                let new = Product {
                    id: Uuid::now_v7(),
                    input: ProductInput {
                        status: ProductStatus::Active,
                        display_name: format!("Fresh Extra {page}"),
                        ..template.input
                    },
                    ..template
                };
                index.upsert(&new, &catalog.tree).unwrap();
                added.insert(new.id);
            },
        );

        let context = format!("query {query:?}, {sort:?}");
        let unique: HashSet<Uuid> = paged.iter().copied().collect();
        assert_eq!(unique.len(), paged.len(), "duplicates: {context}");
        for id in &first {
            let seen = unique.contains(id);
            // A removed product may have been seen before its removal; every other one
            // must be seen.
            assert!(seen || removed.contains(id), "skipped {id}: {context}");
        }
        assert!(
            unique
                .iter()
                .all(|id| first.contains(id) || added.contains(id))
        );
    }
}

// === writes ===

#[test]
fn archiving_a_product_removes_it_from_results() {
    let catalog = Catalog::new(60);
    let index = catalog.indexed();
    let mango = catalog.with_name("Alphonso Mango").clone();
    let before = search(&index, "").total;

    // Every write bumps the version, as the store does.
    let mut archived = mango.clone();
    archived.input.status = ProductStatus::Archived;
    archived.version += 1;
    index.upsert(&archived, &catalog.tree).unwrap();
    assert_eq!(search(&index, "alphonso").total, 0);
    assert_eq!(search(&index, "").total, before - 1);

    let mut active = archived.clone();
    active.input.status = ProductStatus::Active;
    active.version += 1;
    index.upsert(&active, &catalog.tree).unwrap();
    assert_eq!(search(&index, "alphonso").ids, [mango.id]);

    let mut renamed = active.clone();
    renamed.input.display_name = "Kesar Mango".into();
    renamed.version += 1;
    index.upsert(&renamed, &catalog.tree).unwrap();
    assert_eq!(
        search(&index, "alphonso").total,
        0,
        "the old document is replaced"
    );
    assert_eq!(search(&index, "kesar").ids, [mango.id]);
    assert_eq!(search(&index, "").total, before);

    // A late write of an older state (a slow concurrent writer) does not bring it back.
    index.upsert(&archived, &catalog.tree).unwrap();
    assert_eq!(search(&index, "kesar").ids, [mango.id]);

    index.remove(mango.id).unwrap();
    assert_eq!(search(&index, "kesar").total, 0);
    assert_eq!(search(&index, "").total, before - 1);
    index.upsert(&renamed, &catalog.tree).unwrap();
    assert_eq!(
        search(&index, "kesar").total,
        0,
        "a deleted product stays deleted"
    );
}

#[test]
fn upserting_one_by_one_indexes_the_same_as_a_rebuild() {
    let catalog = Catalog::new(40);
    let rebuilt = catalog.indexed();
    let upserted = SearchIndex::new().unwrap();
    for product in &catalog.products {
        upserted.upsert(product, &catalog.tree).unwrap();
    }
    for query in ["", "fresh", "mango"] {
        let all = request(query, SearchFilter::default(), SortOrder::Newest, 1000);
        assert_eq!(
            rebuilt.search(&all, now()).unwrap(),
            upserted.search(&all, now()).unwrap(),
            "{query:?}"
        );
    }
}

#[test]
fn a_rebuild_replaces_every_document() {
    let catalog = Catalog::new(60);
    let index = catalog.indexed();
    let kept: Vec<Product> = catalog.products[..10].to_vec();
    index.rebuild(&kept, &catalog.tree).unwrap();
    let results = index
        .search(
            &request("", SearchFilter::default(), SortOrder::Newest, 100),
            now(),
        )
        .unwrap();
    let expected: HashSet<Uuid> = kept
        .iter()
        .filter(|p| p.input.status == ProductStatus::Active)
        .map(|p| p.id)
        .collect();
    assert_eq!(
        results.ids.iter().copied().collect::<HashSet<_>>(),
        expected
    );
}

// === suggestions ===

#[test]
fn suggestions_complete_the_last_word() {
    let catalog = Catalog::new(190);
    let index = catalog.indexed();

    let alph = index.suggest("alph", 5).unwrap();
    assert_eq!(alph[0].text, "Alphonso Mango");
    assert_eq!(
        alph[0].product_id,
        Some(catalog.with_name("Alphonso Mango").id)
    );

    let texts = |prefix: &str, limit: usize| -> Vec<String> {
        index
            .suggest(prefix, limit)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    };
    assert_eq!(
        texts("MAN", 10),
        ["Mango", "Mango Pickle Mix", "Alphonso Mango"],
        "names starting with the text first, shorter first"
    );
    assert_eq!(texts("banana", 10), ["Banana Robusta"], "each name once");
    assert_eq!(texts("alphonso ma", 10), ["Alphonso Mango"]);
    assert_eq!(texts("f", 3).len(), 3);
    assert!(texts("", 5).is_empty());
    assert!(texts("zzz", 5).is_empty());
}

#[test]
fn suggestions_include_categories_with_products() {
    let catalog = Catalog::new(190);
    let index = catalog.indexed();

    let tropical = index.suggest("trop", 5).unwrap();
    assert_eq!(tropical[0].text, "Tropical");
    assert_eq!(
        tropical[0].category_id,
        Some(catalog.categories["Tropical"])
    );
    assert_eq!(tropical[0].product_id, None);

    let leafy = index.suggest("leafy gr", 5).unwrap();
    assert_eq!(leafy[0].text, "Leafy Greens");

    // Pantry holds only "Mango Pickle Mix"; once that is gone, nothing leads there.
    let pickle = catalog.with_name("Mango Pickle Mix");
    assert_eq!(index.suggest("pantr", 5).unwrap()[0].text, "Pantry");
    index.remove(pickle.id).unwrap();
    assert!(index.suggest("pantr", 5).unwrap().is_empty());
}

// === speed ===

#[test]
fn writes_in_a_batch_become_visible_when_the_batch_ends() {
    let catalog = Catalog::new(40);
    let index = SearchIndex::new().unwrap();
    let batch = index.batch();
    for product in &catalog.products {
        index.upsert(product, &catalog.tree).unwrap();
    }
    let everything = |index: &SearchIndex| {
        index
            .search(
                &SearchRequest {
                    query: String::new(),
                    filter: SearchFilter::default(),
                    sort: SortOrder::Newest,
                    facets: vec![],
                    limit: 1,
                    after: None,
                },
                chrono::Utc::now(),
            )
            .unwrap()
            .total
    };
    assert_eq!(
        everything(&index),
        0,
        "nothing is committed while the batch is open"
    );
    drop(batch);
    let active = catalog
        .products
        .iter()
        .filter(|p| p.input.status == ProductStatus::Active)
        .count() as u64;
    assert!(active > 0);
    assert_eq!(everything(&index), active);
}
