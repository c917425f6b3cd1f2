"""The portal's server side under /v1: record listings, saved views and their
subscriptions, and site management reads."""

from __future__ import annotations

from fastapi import APIRouter

from tally.api.findings import router as findings_router
from tally.api.ingest_health import router as ingest_health_router
from tally.api.record_reads import router as record_reads_router
from tally.api.saved_views import router as saved_views_router
from tally.api.site_keys import router as site_keys_router
from tally.api.subscriptions import router as subscriptions_router

router = APIRouter(prefix="/v1")
router.include_router(record_reads_router)
router.include_router(saved_views_router)
router.include_router(subscriptions_router)
router.include_router(ingest_health_router)
router.include_router(site_keys_router)
router.include_router(findings_router)
