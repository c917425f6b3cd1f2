"""Ingest health for site managers: what each resource sent lately, who went quiet, what was refused."""
