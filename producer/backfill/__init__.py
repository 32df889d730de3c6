"""``ticketflow backfill``: import ticket history or re-process stored tickets, resumably.

reader (file rows -> validated tickets) -> importer (idempotent, rate-limited enqueue);
reprocess (filters -> ``intake.retriage``); cli (the Typer command). All of it sends to
``settings.backfill_queue`` so live tickets keep priority.
"""
