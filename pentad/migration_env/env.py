"""Alembic's env for every component: its metadata comes from the component's ``models``."""

from pentad.migrate import run_env

run_env()
