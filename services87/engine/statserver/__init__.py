"""Genesys Stat Server vocabulary on the live timelines: definitions, pre-configured statistics, evaluation.

See docs/genesys.md for the semantics of each category, subject, object type and notification mode.
"""

from services87.engine.statserver.catalog import check_object_type, lookup, names
from services87.engine.statserver.definitions import (
    CATEGORIES,
    OBJECT_TYPES,
    InvalidDefinition,
    InvalidObjectType,
    Mask,
    StatDefinition,
    UnknownObject,
    UnknownStatistic,
    canonical_status,
    parse_definition,
    parse_object_type,
)
from services87.engine.statserver.evaluate import Result, StatEvaluator

__all__ = [
    "CATEGORIES", "OBJECT_TYPES", "InvalidDefinition", "InvalidObjectType", "Mask", "Result", "StatDefinition",
    "StatEvaluator", "UnknownObject", "UnknownStatistic", "canonical_status", "check_object_type", "lookup", "names",
    "parse_definition", "parse_object_type",
]
