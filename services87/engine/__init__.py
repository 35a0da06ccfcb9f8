"""The statistics engine: domain model, storage, calculators, the Stat Server catalogue. Knows no protocol."""
