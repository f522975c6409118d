"""Full-text and record search: the Chinese analyzer and 異體字 folding (analyzer), the query
language (query), the documents indexed (documents), the whoosh and tantivy backends behind one
protocol (backend, backends), the indexer fed by the catalogue's event log (indexer), searching
with facets and highlighted snippets (service, snippets). See docs/search.md."""
