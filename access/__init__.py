"""Who may do what: people (users with roles, server-side sessions), machines (scoped API keys),
the audit trail, and the secure defaults every response carries.

Nothing here knows the ticket pipeline; producer/ and review/ routes depend on ``access.deps``.
See docs/security.md for the model.
"""
