"""Acoustic coverage of lantern speakers (issue 19): who will hear, and understand, a warning.

Pure numpy/scipy/shapely on metric coordinates: ``propagation`` (ISO 9613-2 terms),
``receivers`` (listener points along the streets), ``matrix`` (sparse lantern to point gains),
``rating`` (intelligible / audible / not covered per street segment), ``planning`` (where one
more speaker helps most, the façade volume cap). No I/O, no HTTP, no database.
"""

from lightctl.acoustics.propagation import (
    DEFAULT_SOURCE,
    Propagation,
    SourceSpec,
    attenuation_db,
    energy_sum_db,
)

__all__ = ["DEFAULT_SOURCE", "Propagation", "SourceSpec", "attenuation_db", "energy_sum_db"]
