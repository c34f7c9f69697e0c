"""Development service.

Thresholds, gap analysis and development initiatives towards a real cluster.
"""
