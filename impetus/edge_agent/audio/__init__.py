"""The gunshot detector's audio front end: onset gate, impulse measurement, log-mel, YAMNet."""
