"""The `ticketflow` command: composes producer and worker commands, importing each lazily."""
