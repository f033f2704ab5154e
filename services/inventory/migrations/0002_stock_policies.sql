-- Per-product alert settings. A product without a row uses the service's configured
-- defaults (MANDI_INVENTORY__LOW_STOCK_THRESHOLD, MANDI_INVENTORY__EXPIRY_WARNING_DAYS).

CREATE TABLE stock_policies (
    product_id          uuid PRIMARY KEY,
    low_stock_threshold bigint      NOT NULL CHECK (low_stock_threshold >= 0),
    expiry_warning_days integer     NOT NULL CHECK (expiry_warning_days BETWEEN 0 AND 365),
    updated_at          timestamptz NOT NULL
);
