"""Email intake: read mail from IMAP, mbox, Maildir or .eml files and turn it into tickets.

``parse`` turns raw bytes into a ``ParsedEmail``; ``clean`` strips quotes and signatures for
the model; ``automated`` spots auto-replies and bounces; ``ingest`` decides what each mail
becomes (new ticket, reply in a thread, duplicate, skipped, quarantined); ``sources`` and
``imap`` yield raw mail with an acknowledgement callback; ``cli`` is the thin Typer edge.
"""
