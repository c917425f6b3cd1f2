"""Record listings: the rows behind a report's figure, paged by keyset, fenced like reports."""
