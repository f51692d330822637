"""Source plugins (cameras, microphones, files, the scenario), one module each."""
