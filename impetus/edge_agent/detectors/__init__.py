"""Detector plugins, one module each; `impetus.edge_agent.plugins.load_plugins()` imports them all."""
