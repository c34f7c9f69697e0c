"""Segmentation service.

Which patient segments the destination serves, from which source markets, and how attractive each is.
"""
