"""Feature tables (filled in with the feature); they share ``services87.engine.schema.metadata``."""
