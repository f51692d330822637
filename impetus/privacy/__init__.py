"""What may leave a device: privacy policies and the gate every outgoing message passes.

May import `impetus.protocol` and `impetus.configfile` only.
"""
