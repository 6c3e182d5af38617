"""lightctl: public warnings and visitor guidance through smart street lanterns."""

__version__ = "0.1.0"
