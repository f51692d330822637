"""CAP 1.2 export and the OASIS schema it is validated against."""
