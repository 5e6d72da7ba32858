"""loopdev: a fast local inner-loop development tool for Kubernetes."""

__version__ = "0.1.0"
