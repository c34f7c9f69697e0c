"""Promotion service.

Campaigns bound to segments and markets, enquiries routed to partners, attribution.
"""
