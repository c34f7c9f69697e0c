"""Integration service.

The stakeholder register, provider capacity, packages and quotes: one integrated offer.
"""
