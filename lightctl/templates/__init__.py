"""Pre-approved warning templates: loading, checking and filling them. Imports nothing heavy."""

from lightctl.templates.loader import load_templates, validate_directory
from lightctl.templates.model import (
    REQUIRED_LANGUAGES,
    SEVERITIES,
    SIGNALS,
    Placeholder,
    Severity,
    Signal,
    Template,
)
from lightctl.templates.placeholders import MAX_PARAM_CHARS, render
from lightctl.templates.problems import TemplateInvalid, TemplateProblem

__all__ = [
    "MAX_PARAM_CHARS",
    "REQUIRED_LANGUAGES",
    "SEVERITIES",
    "SIGNALS",
    "Placeholder",
    "Severity",
    "Signal",
    "Template",
    "TemplateInvalid",
    "TemplateProblem",
    "load_templates",
    "render",
    "validate_directory",
]
