//! Catalog benchmarks, each against a baseline measured in the same run on the same
//! machine (it is shared and noisy: only the ratios travel).
//!
//! 1. GetProduct on a cache hit through the whole server stack (auth, tracing, metrics,
//!    load shedding, the catalog service) versus a bare tonic server that answers every
//!    GetProduct with the same encoded response: same payload, same concurrency, same
//!    client. The ratio is the cost of everything mandi adds.
//! 2. SearchProducts over 10,000 products straight on the index: queries per second and
//!    latency percentiles for a mix of text queries, typos, prefixes and filters.
//!
//! Run with `make bench`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::Utc;
use mandi_catalog::cache::memory::MemoryCache;
use mandi_catalog::domain::{
    Category, CategoryTree, Minor, NewCategory, Origin, Product, ProductInput, ProductStatus,
    RatingSummary, StorageCondition, UnitOfSale,
};
use mandi_catalog::grpc::{CatalogGrpc, Currency, POLICIES};
use mandi_catalog::search::{SearchFilter, SearchIndex, SearchRequest, SortOrder};
use mandi_catalog::service::Catalog;
use mandi_catalog::store::memory::MemoryStore;
use mandi_runtime::auth::TokenVerifier;
use mandi_runtime::server::{Module, ServerConfig, serve};
use mandi_sdk::proto::mandi::catalog::v1::catalog_service_client::CatalogServiceClient;
use mandi_sdk::proto::mandi::catalog::v1::catalog_service_server::CatalogServiceServer;
use mandi_sdk::proto::mandi::catalog::v1::{GetProductRequest, GetProductResponse};
use mandi_testkit::bench::{Run, median, round};
use prost::Message as _;
use tonic::body::Body;
use tonic::server::NamedService;
use uuid::Uuid;

const CONCURRENCY: usize = 32;
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 5;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(get_product_vs_bare_tonic())?;
    search_over_ten_thousand_products()?;
    Ok(())
}

// === GetProduct ===

async fn get_product_vs_bare_tonic() -> Result<(), BoxError> {
    let catalog = Arc::new(
        Catalog::new(
            MemoryStore::default(),
            MemoryCache::new(Duration::from_secs(3600)),
        )
        .await?,
    );
    let admin = mandi_catalog::service::Viewer {
        user_id: Some("bench".into()),
        admin: true,
        vendor: false,
    };
    let category = catalog
        .create_category(&admin, new_category("Fruits", None), None)
        .await?;
    let mut input = product_input(0, category.id);
    input.vendor_id = "vendor-bench".into();
    let product = catalog.create_product(&admin, input, None).await?;

    // The full mandi server on a free port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mandi_addr = listener.local_addr()?;
    let config = ServerConfig::from_env(&mandi_runtime::config::Env::default())?;
    let verifier = Arc::new(TokenVerifier::new(Arc::new(|| {
        Box::pin(async { Ok(Vec::new()) })
    })));
    let module = Module::new(
        CatalogServiceServer::new(CatalogGrpc::new(catalog.clone(), Currency("INR".into()))),
        POLICIES,
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(
            &config,
            vec![module],
            verifier,
            listener,
            admin_listener,
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });

    let request = GetProductRequest {
        product_id: product.id.to_string(),
    };
    let mut probe = client(mandi_addr).await?;
    let response = probe.get_product(request.clone()).await?.into_inner();
    let payload = response.encoded_len();

    // The baseline: bare tonic answering with the same bytes.
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_addr = bare_listener.local_addr()?;
    let bare_server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CannedGetProduct(Arc::new(response)))
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(bare_listener).with_nodelay(Some(true)),
            ),
    );

    // Warm both, then alternate rounds so drift on the shared machine hits both alike.
    load(bare_addr, &request, Duration::from_millis(500)).await?;
    load(mandi_addr, &request, Duration::from_millis(500)).await?;
    let mut bare = Vec::new();
    let mut mandi = Vec::new();
    for _ in 0..ROUNDS {
        bare.push(load(bare_addr, &request, ROUND).await?);
        mandi.push(load(mandi_addr, &request, ROUND).await?);
    }
    let rps = |runs: &[Run]| median(runs.iter().map(Run::per_second));
    let cpu = |runs: &[Run]| median(runs.iter().map(Run::cpu_micros_per_request));
    println!(
        "GetProduct, cache hit, {CONCURRENCY} concurrent callers, payload {payload} bytes, median of {ROUNDS} × {ROUND:?}"
    );
    println!(
        "  bare tonic (canned reply)   {:>9.0} req/s   {:>6.1} µs CPU per request (client + server)",
        rps(&bare),
        cpu(&bare)
    );
    println!(
        "  mandi catalog, full stack   {:>9.0} req/s   {:>6.1} µs CPU per request (client + server)",
        rps(&mandi),
        cpu(&mandi)
    );
    println!(
        "  ratio mandi / bare          {:>9.2} by req/s   {:.2} by CPU per request   (goal >= 0.80)",
        rps(&mandi) / rps(&bare),
        cpu(&bare) / cpu(&mandi)
    );

    let _ = stop_tx.send(());
    server.await??;
    bare_server.abort();
    Ok(())
}

async fn client(
    addr: std::net::SocketAddr,
) -> Result<CatalogServiceClient<tonic::transport::Channel>, BoxError> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    Ok(CatalogServiceClient::new(channel))
}

/// A round of `CONCURRENCY` callers sharing one HTTP/2 connection for `run`.
async fn load(
    addr: std::net::SocketAddr,
    request: &GetProductRequest,
    run: Duration,
) -> Result<Run, BoxError> {
    let client = client(addr).await?;
    let request = request.clone();
    Ok(round(CONCURRENCY, run, move || {
        let mut client = client.clone();
        let request = request.clone();
        async move { client.get_product(request).await.is_ok() }
    })
    .await)
}

/// A tonic service that answers GetProduct with a fixed response and nothing else.
#[derive(Clone)]
struct CannedGetProduct(Arc<GetProductResponse>);

impl NamedService for CannedGetProduct {
    const NAME: &'static str = "mandi.catalog.v1.CatalogService";
}

impl tower::Service<http::Request<Body>> for CannedGetProduct {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let reply = self.0.clone();
        Box::pin(async move {
            let service = Canned(reply);
            let codec = tonic_prost::ProstCodec::<GetProductResponse, GetProductRequest>::default();
            Ok(tonic::server::Grpc::new(codec)
                .unary(service, request)
                .await)
        })
    }
}

struct Canned(Arc<GetProductResponse>);

impl tonic::server::UnaryService<GetProductRequest> for Canned {
    type Response = GetProductResponse;
    type Future = std::future::Ready<Result<tonic::Response<GetProductResponse>, tonic::Status>>;

    fn call(&mut self, _: tonic::Request<GetProductRequest>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new((*self.0).clone())))
    }
}

// === search ===

fn search_over_ten_thousand_products() -> Result<(), BoxError> {
    let fruits = category("Fruits", None);
    let tropical = category("Tropical", Some(fruits.id));
    let vegetables = category("Vegetables", None);
    let leafy = category("Leafy Greens", Some(vegetables.id));
    let tree = CategoryTree::new([
        fruits.clone(),
        tropical.clone(),
        vegetables.clone(),
        leafy.clone(),
    ]);
    let leaves = [tropical.id, leafy.id, fruits.id, vegetables.id];
    let products: Vec<Product> = (0..10_000)
        .map(|n| {
            let now = Utc::now() - chrono::Duration::minutes(n as i64);
            Product {
                id: Uuid::now_v7(),
                input: product_input(n, leaves[n % leaves.len()]),
                rating: RatingSummary {
                    count: (n % 7) as i64,
                    sum: (n % 7 * 4) as i64,
                },
                created_at: now,
                updated_at: now,
                version: 1,
            }
        })
        .collect();
    let index = SearchIndex::new()?;
    let built = Instant::now();
    index.rebuild(&products, &tree)?;
    let build_time = built.elapsed();

    let queries: Vec<SearchRequest> = [
        ("mango", SearchFilter::default(), SortOrder::Relevance),
        (
            "alphonso mango",
            SearchFilter::default(),
            SortOrder::Relevance,
        ),
        ("bananna", SearchFilter::default(), SortOrder::Relevance),
        ("tomatoe", SearchFilter::default(), SortOrder::Relevance),
        ("spin", SearchFilter::default(), SortOrder::Relevance),
        (
            "",
            SearchFilter {
                category: Some(fruits.id),
                organic: Some(true),
                ..Default::default()
            },
            SortOrder::PriceAscending,
        ),
        (
            "",
            SearchFilter {
                min_price: Some(Minor(5_000)),
                max_price: Some(Minor(20_000)),
                ..Default::default()
            },
            SortOrder::Newest,
        ),
        (
            "organic",
            SearchFilter {
                local: Some(true),
                ..Default::default()
            },
            SortOrder::Rating,
        ),
    ]
    .into_iter()
    .map(|(query, filter, sort)| SearchRequest {
        query: query.into(),
        filter,
        sort,
        facets: vec![
            mandi_catalog::search::FacetField::Category,
            mandi_catalog::search::FacetField::OriginCountry,
            mandi_catalog::search::FacetField::Organic,
        ],
        limit: 24,
        after: None,
    })
    .collect();

    let now = Utc::now();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        for query in &queries {
            let one = Instant::now();
            let results = index.search(query, now)?;
            std::hint::black_box(results);
            latencies.push(one.elapsed());
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "SearchProducts over {} products on the index (one core, facets on, 24 per page)",
        products.len()
    );
    println!(
        "  index build                 {:>9.0} ms",
        build_time.as_secs_f64() * 1e3
    );
    println!(
        "  throughput                  {:>9.0} queries/s   p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}

fn category(name: &str, parent: Option<Uuid>) -> Category {
    Category {
        id: Uuid::now_v7(),
        fields: new_category(name, parent),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn new_category(name: &str, parent: Option<Uuid>) -> NewCategory {
    NewCategory {
        display_name: name.into(),
        slug: mandi_catalog::domain::slugify(name),
        parent_id: parent,
        description: String::new(),
        image_url: String::new(),
        sort_order: 0,
    }
}

/// The n-th synthetic product: names from a produce list with variety words, so text
/// queries have realistic match counts.
fn product_input(n: usize, category_id: Uuid) -> ProductInput {
    const NAMES: &[&str] = &[
        "Alphonso Mango",
        "Robusta Banana",
        "Tomato Hybrid",
        "Spinach Bunch",
        "Nagpur Orange",
        "Red Onion",
        "Potato Jyoti",
        "Green Peas",
        "Pomegranate Bhagwa",
        "Fuji Apple",
        "Organic Carrot",
        "Cauliflower",
        "Coriander Leaves",
        "Sweet Corn",
        "Kesar Mango",
    ];
    const VARIETY: &[&str] = &[
        "Premium",
        "Farm Fresh",
        "Select",
        "Organic",
        "Local",
        "Export Grade",
    ];
    let name = format!(
        "{} {} {}",
        VARIETY[n % VARIETY.len()],
        NAMES[n % NAMES.len()],
        n
    );
    ProductInput {
        display_name: name.clone(),
        slug: mandi_catalog::domain::slugify(&name),
        description: format!("{name}, hand-picked and packed the same day."),
        category_id,
        vendor_id: format!("vendor-{}", n % 25),
        unit_of_sale: UnitOfSale::Kilogram,
        price: Minor(2_000 + (n as i64 * 37) % 40_000),
        compare_at_price: None,
        min_quantity: 0,
        max_quantity: 0,
        quantity_step: 0,
        unit_weight_grams: 0,
        image_urls: vec![],
        origin: Origin {
            country_code: ["IN", "NZ", "US", "AF"][n % 4].into(),
            region: String::new(),
            local: n.is_multiple_of(3),
        },
        organic: n.is_multiple_of(5),
        season_months: vec![(n % 12 + 1) as u8],
        shelf_life_days: 5,
        storage_condition: StorageCondition::RoomTemperature,
        nutrition: None,
        tags: vec!["fresh".into()],
        status: ProductStatus::Active,
    }
}
