-- The items table docker/catalog.yaml reads (columns: catalog.md), and
-- the staging table the demo items are loaded through.
CREATE TABLE items (
    id          text PRIMARY KEY,
    title       text,
    category    text,
    popularity  double precision,
    attributes  jsonb,
    embedding   real[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted     boolean NOT NULL DEFAULT false
);

CREATE TABLE items_jsonl (doc jsonb NOT NULL);
