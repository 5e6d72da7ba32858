"""Live update: watch files, plan a sync or a rebuild, execute it in running containers."""
