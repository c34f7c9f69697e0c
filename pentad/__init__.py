"""Pentad's shared kit: what every service and the gateway stand on (the ``pentad``
command itself lives in the ``launcher`` package)."""
