"""Apply, prune, track and tear down what the renderer produced, in the target cluster."""
