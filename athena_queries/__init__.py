"""Tally's Athena SQL: tables/ (DDL), views/ and reports/ (Trino DML, run on DuckDB locally).

A package of data only: it makes the SQL a resource of the installed distribution, so
`tally.query.sql_files` finds it through `importlib.resources` in a wheel, an editable install
or the Lambda layer alike.
"""
