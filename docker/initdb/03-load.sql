-- From the JSON Lines documents of 02-demo-items.sql to the items table.
INSERT INTO items (id, title, category, popularity, attributes, embedding)
SELECT doc->>'id', doc->>'title', doc->>'category',
       (doc->>'popularity')::double precision, doc->'attributes',
       ARRAY(SELECT jsonb_array_elements_text(doc->'vector')::real)
FROM items_jsonl
ON CONFLICT (id) DO NOTHING;

TRUNCATE items_jsonl;
