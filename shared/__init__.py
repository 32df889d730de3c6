"""Code both sides import: settings, schema, database session, Celery app, task names."""
