"""The `pentad` command: run, migrate and manage the platform (not part of the kit)."""
