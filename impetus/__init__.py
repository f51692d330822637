"""impetus: public-safety event detection on edge devices, correlated for a SOC."""

__version__ = "0.1.0"
