"""Scheduled reports: a person's saved view delivered weekly or monthly as CSV, Excel or PDF."""
