"""OLAP-style reports over the views: allow-listed dimensions and metrics, bound filter values."""
