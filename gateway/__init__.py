"""The gateway: the only public entry (auth, routing, limits, merged OpenAPI)."""
