"""What each mandi service is in the cluster: its backends, configuration and callers.

One table drives k8s/base/services/*.yaml and istio/*.yaml (render.py writes them, the
validation re-renders and fails on any drift), so a service's Deployment, Service,
ServiceAccount, PodDisruptionBudget, DestinationRule, VirtualService and
AuthorizationPolicy cannot disagree. crosscheck.py then holds the rendered files
against the code: the protos, services/ and the server's defaults.
"""

NAMESPACE = "mandi"
TRUST_DOMAIN = "cluster.local"
# Built from the Dockerfile at the top of the repository; prod pins the tag.
IMAGE = "registry.mandi.example/mandi-server:0.1.0"
INGRESS_PRINCIPAL = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
PUBLIC_HOST = "shop.mandi.example"

# The ports mandi-server listens on by default (crates/runtime/src/server.rs:
# MANDI_LISTEN 127.0.0.1:50051, MANDI_ADMIN_LISTEN 127.0.0.1:9090); in a pod they bind
# every interface. crosscheck.py reads the defaults from the Rust source and compares.
GRPC_PORT = 50051
ADMIN_PORT = 9090
# The gateway's public port (services/gateway: MANDI_GATEWAY__LISTEN, default :8080).
EDGE_PORT = 8080

# Seconds between SIGTERM and the listener closing: health reports NOT_SERVING at once and
# the server keeps answering for MANDI_SERVER__DRAIN_DELAY, so the endpoints controller and
# every sidecar stop sending new calls first; then in-flight calls finish within
# MANDI_SERVER__REQUEST_TIMEOUT. The grace period covers both with a margin.
DRAIN_DELAY_S = 5
REQUEST_TIMEOUT_S = 30
GRACE_PERIOD_S = DRAIN_DELAY_S + REQUEST_TIMEOUT_S + 5

# Idle RSS of mandi-server (MiB), measured from VmRSS in /proc/<pid>/status 10s after
# start, on the debug build (a release build is smaller: the figures are an upper bound):
# each target alone on its real backends (PostgreSQL, Redis, a MongoDB-wire server), and
# --target=all in memory with the 124-product demo catalog and its search index.
# Requests are about 1.5x idle; limits leave room for load (up to 1024 calls in flight),
# identity's argon2id (19 MiB per concurrent password hash) and catalog's in-process
# tantivy index, which grows with the catalogue (the demo catalog alone adds ~25 MiB).
MEASURED_IDLE_RSS_MIB = {
    "all": 69,
    "identity": 31,
    "profile": 31,
    "catalog": 33,
    "inventory": 32,
    "cart": 22,
    "order": 31,
    "payment": 32,
    "checkout": 24,
    "notification": 30,
    "shipping": 35,
    "gateway": 28,
}

# Backing servers, outside the mesh's own pods: ExternalName Services in k8s/base that an
# operator points at managed PostgreSQL, MongoDB, Redis and Kafka.
EXTERNAL = {
    "postgres": ("postgres.example.internal", 5432),
    "mongodb": ("mongodb.example.internal", 27017),
    "redis": ("redis.example.internal", 6379),
    "kafka": ("kafka.example.internal", 9092),
}


def endpoint(service):
    """The in-cluster URL of a service's gRPC port (plain HTTP/2: the sidecars add mTLS)."""
    return f"http://{service}.{NAMESPACE}.svc.cluster.local:{GRPC_PORT}"


# Reads are idempotent: the only methods the mesh retries. Streams get no route timeout.
def is_read(method):
    return method.startswith(("Get", "List", "BatchGet", "Search", "Suggest"))


def is_stream(method):
    return method.startswith("Watch")


# Per service:
#   proto     the gRPC service it serves (None: the gateway, which is the edge)
#   memory    (request MiB, limit MiB)
#   cpu       (request millicores, limit millicores or None for no CPU limit)
#   hpa       stateless (all state in its backends, no singleton loops): autoscaled
#   config    non-secret MANDI_* settings, in the service's ConfigMap
#   secrets   MANDI_* settings from the Secret <svc>-secrets (created by the operator; a
#             trailing ? marks a key the service runs without)
#   callers   {calling service: [methods]}; "gateway" stands for every user, vendor and
#             admin call that comes in through the storefront's edge
#   timeouts  per-method route timeout in seconds, where the default does not fit
SERVICES = {
    "identity": {
        "proto": "mandi.identity.v1.IdentityService",
        "memory": (48, 256),
        "cpu": (100, None),
        "hpa": True,
        "config": {
            "MANDI_IDENTITY__REDIS_PREFIX": "mandi:identity:",
            "MANDI_IDENTITY__TRUST_FORWARDED_FOR": "true",
            "MANDI_KAFKA__BROKERS": "kafka:9092",
        },
        "secrets": [
            "MANDI_IDENTITY__DATABASE_URL",
            "MANDI_IDENTITY__REDIS_URL",
            "MANDI_IDENTITY__SERVICE_CLIENTS",
            "MANDI_IDENTITY__ADMIN_EMAILS?",
        ],
        "callers": {
            "gateway": [
                "Register", "Login", "Refresh", "Logout", "GetCurrentUser", "GetUser",
                "SetUserRole", "GetJwks", "RotateSigningKey",
            ],
            # Services sign in with client credentials (client_secret from their Secret).
            "checkout": ["IssueServiceToken"],
            "notification": ["IssueServiceToken", "GetUser"],
            "shipping": ["IssueServiceToken"],
            # GetJwks for every service is added below: each verifies tokens itself.
        },
        "timeouts": {"Register": 10, "Login": 10},
    },
    "profile": {
        "proto": "mandi.profile.v1.ProfileService",
        "memory": (48, 160),
        "cpu": (50, None),
        "hpa": True,
        "config": {"MANDI_KAFKA__BROKERS": "kafka:9092"},
        "secrets": ["MANDI_PROFILE__DATABASE_URL"],
        "callers": {
            "gateway": [
                "GetProfile", "UpdateProfile", "ListAddresses", "GetAddress", "CreateAddress",
                "UpdateAddress", "DeleteAddress", "SetDefaultAddress", "GetPreferences",
                "UpdatePreferences",
            ],
            "checkout": ["GetAddress"],
            "notification": ["GetProfile", "GetPreferences"],
        },
    },
    "catalog": {
        "proto": "mandi.catalog.v1.CatalogService",
        "memory": (64, 512),
        "cpu": (100, None),
        # Each replica keeps its own search index, rebuilt from MongoDB at start: scale by
        # hand until other replicas' writes reach it through events.
        "hpa": False,
        "config": {
            "MANDI_CATALOG__MONGO_DATABASE": "catalog",
            "MANDI_CATALOG__REDIS_PREFIX": "mandi:catalog:",
            "MANDI_CATALOG__CURRENCY": "INR",
        },
        "secrets": ["MANDI_CATALOG__MONGO_URL", "MANDI_CATALOG__REDIS_URL"],
        "callers": {
            "gateway": [
                "GetProduct", "BatchGetProducts", "ListProducts", "CreateProduct",
                "UpdateProduct", "DeleteProduct", "SearchProducts", "SuggestProducts",
                "GetCategory", "ListCategories", "CreateCategory", "UpdateCategory",
                "DeleteCategory", "CreateReview", "ListReviews",
            ],
            "cart": ["BatchGetProducts", "ListCategories"],
            # The saga prices and checks the cart's lines again before it orders.
            "checkout": ["BatchGetProducts"],
            "inventory": ["GetProduct", "ListProducts"],
            "notification": ["GetProduct"],
        },
    },
    "inventory": {
        "proto": "mandi.inventory.v1.InventoryService",
        "memory": (48, 192),
        "cpu": (100, None),
        "hpa": False,
        "config": {
            "MANDI_INVENTORY__CATALOG_ENDPOINT": endpoint("catalog"),
            "MANDI_INVENTORY__CURRENCY": "INR",
            "MANDI_KAFKA__BROKERS": "kafka:9092",
        },
        "secrets": ["MANDI_INVENTORY__DATABASE_URL"],
        "callers": {
            # Everything but the reservation calls: availability is public, stock is for
            # admins and the vendors who own the products (checked by inventory itself).
            "gateway": [
                "CreateWarehouse", "GetWarehouse", "ListWarehouses", "ReceiveStock",
                "AdjustStock", "ListStockAdjustments", "WriteOffExpired", "ListBatches",
                "GetAvailability", "BatchGetAvailability", "ListLowStock", "GetStockPolicy",
                "UpdateStockPolicy", "GetReservation",
            ],
            "cart": ["GetAvailability", "BatchGetAvailability"],
            # Only the checkout saga and order may hold, sell or give back stock.
            "checkout": ["Reserve", "Commit", "Release", "GetReservation"],
            "order": ["Reserve", "Commit", "Release"],
        },
    },
    "cart": {
        "proto": "mandi.cart.v1.CartService",
        "memory": (40, 160),
        "cpu": (50, None),
        "hpa": True,
        "config": {
            "MANDI_CART__CATALOG_ENDPOINT": endpoint("catalog"),
            "MANDI_CART__INVENTORY_ENDPOINT": endpoint("inventory"),
            "MANDI_CART__REDIS_PREFIX": "mandi:cart:",
            "MANDI_CART__CURRENCY": "INR",
        },
        "secrets": ["MANDI_CART__REDIS_URL"],
        "callers": {
            "gateway": [
                "GetCart", "AddItem", "UpdateItemQuantity", "RemoveItem", "ClearCart",
                "MergeGuestCart",
            ],
            "checkout": ["GetCart", "ClearCart"],
        },
    },
    "order": {
        "proto": "mandi.order.v1.OrderService",
        "memory": (48, 192),
        "cpu": (100, None),
        # The outbox relay runs in every replica; keep the count fixed.
        "hpa": False,
        "config": {"MANDI_KAFKA__BROKERS": "kafka:9092"},
        "secrets": ["MANDI_ORDER__DATABASE_URL"],
        "callers": {
            "gateway": ["GetOrder", "ListOrders", "UpdateOrderStatus", "CancelOrder"],
            # CreateOrder is for the checkout saga only.
            "checkout": [
                "CreateOrder", "GetOrder", "UpdateOrderStatus", "CancelOrder", "ListOrders",
            ],
            # Shipping moves an order along as its shipment is packed, sent and delivered.
            "shipping": ["GetOrder", "UpdateOrderStatus"],
        },
    },
    "payment": {
        "proto": "mandi.payment.v1.PaymentService",
        "memory": (48, 192),
        "cpu": (100, None),
        "hpa": False,
        "config": {
            "MANDI_PAYMENT__CURRENCY": "INR",
            "MANDI_PAYMENT__GATEWAY_TIMEOUT": "10s",
            "MANDI_KAFKA__BROKERS": "kafka:9092",
        },
        "secrets": ["MANDI_PAYMENT__DATABASE_URL"],
        "callers": {
            "gateway": [
                "GetPayment", "ListPayments", "RefundPayment", "VoidPayment",
                "ListLedgerEntries",
            ],
            # Money moves only from the saga: authorize and capture are checkout's alone.
            "checkout": [
                "AuthorizePayment", "CapturePayment", "VoidPayment", "GetPayment",
                "ListPayments", "RefundPayment",
            ],
        },
        # Longer than MANDI_PAYMENT__GATEWAY_TIMEOUT, so the card gateway's answer arrives.
        "timeouts": {"AuthorizePayment": 15, "CapturePayment": 15, "RefundPayment": 15},
    },
    "checkout": {
        "proto": "mandi.checkout.v1.CheckoutService",
        "memory": (40, 192),
        "cpu": (100, None),
        "hpa": False,
        "config": {
            **{
                f"MANDI_CHECKOUT__{peer.upper()}_ENDPOINT": endpoint(peer)
                for peer in [
                    "identity", "order", "inventory", "payment", "cart", "profile", "catalog",
                    "shipping",
                ]
            },
            "MANDI_CHECKOUT__WAIT_LIMIT": "25s",
        },
        "secrets": ["MANDI_CHECKOUT__DATABASE_URL", "MANDI_CHECKOUT__CLIENT_SECRET"],
        "callers": {
            "gateway": ["StartCheckout", "GetCheckout", "ListCheckouts", "WatchCheckout"],
        },
        # StartCheckout with `wait` holds the call until the saga ends: within the route's
        # and the server's 30s.
        "timeouts": {"StartCheckout": 30},
    },
    "shipping": {
        "proto": "mandi.shipping.v1.ShippingService",
        "memory": (48, 192),
        "cpu": (100, None),
        "hpa": True,
        "config": {
            "MANDI_SHIPPING__IDENTITY_ENDPOINT": endpoint("identity"),
            "MANDI_SHIPPING__ORDER_ENDPOINT": endpoint("order"),
            "MANDI_KAFKA__BROKERS": "kafka:9092",
        },
        "secrets": ["MANDI_SHIPPING__DATABASE_URL", "MANDI_SHIPPING__CLIENT_SECRET"],
        "callers": {
            "gateway": [
                "GetShippingQuote", "ListDeliverySlots", "GetShipment", "ListShipments",
                "AssignRider", "UpdateShipmentStatus", "WatchShipment", "CreateRider",
                "GetRider", "ListRiders", "UpdateRider", "AcceptShipment", "RejectShipment",
            ],
            "checkout": [
                "GetShippingQuote", "ListDeliverySlots", "ReserveSlot", "ReleaseSlot",
                "CreateShipment", "GetShipment",
            ],
        },
    },
    "notification": {
        "proto": "mandi.notification.v1.NotificationService",
        "memory": (48, 192),
        "cpu": (50, None),
        "hpa": False,
        "config": {
            "MANDI_NOTIFICATION__IDENTITY_ENDPOINT": endpoint("identity"),
            "MANDI_NOTIFICATION__PROFILE_ENDPOINT": endpoint("profile"),
            "MANDI_NOTIFICATION__CATALOG_ENDPOINT": endpoint("catalog"),
            "MANDI_KAFKA__BROKERS": "kafka:9092",
        },
        "secrets": [
            "MANDI_NOTIFICATION__DATABASE_URL",
            "MANDI_NOTIFICATION__CLIENT_SECRET",
            "MANDI_NOTIFICATION__SMTP_HOST?",
        ],
        "callers": {
            # SendNotification has no caller today (notices come from events): nobody may.
            "gateway": ["GetDelivery", "ListDeliveries"],
        },
    },
    "gateway": {
        "proto": None,
        "memory": (48, 192),
        "cpu": (100, None),
        "hpa": True,
        # The public listener (MANDI_GATEWAY__LISTEN, default 127.0.0.1:8080): grpc-web,
        # gRPC and the storefront's files, behind the Istio ingress Gateway.
        "edge_port": EDGE_PORT,
        "config": {
            "MANDI_GATEWAY__LISTEN": f"0.0.0.0:{EDGE_PORT}",
            "MANDI_GATEWAY__CORS_ORIGINS": f"https://{PUBLIC_HOST}",
            # The ingress gateway sets x-forwarded-for; rate limits key on the real client.
            "MANDI_GATEWAY__TRUST_FORWARDED_FOR": "true",
            "MANDI_GATEWAY__REDIS_PREFIX": "mandi:gateway:",
            # Where the Dockerfile puts the built storefront.
            "MANDI_GATEWAY__WEB_ROOT": "/srv/web",
            **{
                f"MANDI_GATEWAY__UPSTREAM__{peer.upper()}": endpoint(peer)
                for peer in [
                    "identity", "profile", "catalog", "inventory", "cart", "order", "payment",
                    "checkout", "shipping", "notification",
                ]
            },
        },
        "secrets": ["MANDI_GATEWAY__REDIS_URL"],
        "callers": {},
    },
}

# Every service verifies access tokens with identity's keys (GetJwks over gRPC).
for _name in SERVICES:
    if _name != "identity":
        SERVICES["identity"]["callers"].setdefault(_name, [])
        if "GetJwks" not in SERVICES["identity"]["callers"][_name]:
            SERVICES["identity"]["callers"][_name].append("GetJwks")


def principal(service):
    return f"{TRUST_DOMAIN}/ns/{NAMESPACE}/sa/{service}"
