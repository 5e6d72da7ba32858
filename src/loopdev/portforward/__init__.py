"""Port-forwards that follow a resource's current Ready pod (pure selection + asyncio relay)."""
