"""The agent that runs on a device: sources -> detectors -> privacy gate -> outbox -> publisher.

May import `impetus.protocol`, `impetus.privacy`, `impetus.configfile` and, for synthetic
sources, `impetus.scenario`; never `impetus.aggregator`.
"""
