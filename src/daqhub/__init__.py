"""daqhub: one server for the back office of a physics experiment's data acquisition."""

__version__ = "0.1.0"
