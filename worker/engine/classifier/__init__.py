"""Ticket classification: a sentence encoder with one head per label field."""
