"""Compaction: merge each partition's small Parquet files into large ones, without duplicates.

See `tally.compaction.compactor` for the rules that keep it safe to run at any time.
"""

from tally.compaction.compactor import (
    CompactionPolicy,
    Compactor,
    PartitionResult,
    RunResult,
    deduplicate_latest,
)

__all__ = ["CompactionPolicy", "Compactor", "PartitionResult", "RunResult", "deduplicate_latest"]
