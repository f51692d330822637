"""Standard operating procedures per alert type, shipped as editable data files."""
