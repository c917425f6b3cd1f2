"""The portal's server side under /v1: record listings, saved views, and site management reads."""

from __future__ import annotations

from fastapi import APIRouter

from tally.api.record_reads import router as record_reads_router
from tally.api.saved_views import router as saved_views_router

router = APIRouter(prefix="/v1")
router.include_router(record_reads_router)
router.include_router(saved_views_router)
