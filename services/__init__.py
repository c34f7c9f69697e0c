"""The pillar services and the coordinator, one package each."""
