"""Local commands from the loopfile: process groups, readiness probes, run/serve runners."""
