"""One SQL for Athena and DuckDB: the SQL files of `athena_queries/` and the engines that run them."""
