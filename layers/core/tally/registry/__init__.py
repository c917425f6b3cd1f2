"""The normalisation registry: resource benchmarks, application rules and VO mappings."""
