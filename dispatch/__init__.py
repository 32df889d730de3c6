"""The queue stage: stored tickets -> Redis, and lost messages found and sent again.

Producers only commit rows (``enqueued_at`` empty means "to send"); a relay claims them and
publishes outside any request (``relay``), and recovery re-sends what no worker holds and no
queue carries (``recovery``). Both run in every API and worker process (``service``).
"""
