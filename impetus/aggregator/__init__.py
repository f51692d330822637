"""The SOC side: broker modes, ingest, store, correlation, API.

May import `impetus.protocol` and `impetus.privacy`; never `impetus.edge_agent`.
"""
