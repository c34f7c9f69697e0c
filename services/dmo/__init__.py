"""DMO coordinator service.

Cross-pillar actions and reactions: offer, readiness, campaign launch, scorecard.
"""
