"""Genesys Stat Server vocabulary on the live timelines: definitions, pre-configured statistics, evaluation.

See docs/genesys.md for the semantics of each category, subject, object type and notification mode.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

#: where each name of the package lives; imported on first use, so that the settings, which need only
#: ``definitions``, do not import the evaluator (and with it the engine and SQLAlchemy)
_HOME = {
    **dict.fromkeys(("check_object_type", "lookup", "names"), "catalog"),
    **dict.fromkeys(("CATEGORIES", "OBJECT_TYPES", "InvalidDefinition", "InvalidObjectType", "Mask", "StatDefinition",
                     "UnknownObject", "UnknownStatistic", "canonical_status", "parse_definition",
                     "parse_object_type"), "definitions"),
    **dict.fromkeys(("Result", "StatEvaluator"), "evaluate"),
}


def __getattr__(name: str):
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CATEGORIES", "OBJECT_TYPES", "InvalidDefinition", "InvalidObjectType", "Mask", "Result", "StatDefinition",
    "StatEvaluator", "UnknownObject", "UnknownStatistic", "canonical_status", "check_object_type", "lookup", "names",
    "parse_definition", "parse_object_type",
]
