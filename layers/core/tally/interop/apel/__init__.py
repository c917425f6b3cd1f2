"""APEL interoperability: APEL messages in (text, StAR XML, accelerator JSON), APEL messages out
(normalised summaries, syncs, cloud summaries and StAR into an SSM outgoing `dirq` queue).

Formats follow APEL 2.5.0's record classes (`apel/db/records/*.py`), its message factory
(`apel/db/loader/record_factory.py`) and EGI's record-format pages
(docs.egi.eu/internal/accounting/record-and-message-formats/).
"""
