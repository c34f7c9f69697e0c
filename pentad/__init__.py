"""Pentad: the shared kit every service and the gateway stand on, and the `pentad` command."""

SERVICES: tuple[str, ...] = (
    "segmentation",
    "integration",
    "administration",
    "development",
    "promotion",
    "dmo",
)
