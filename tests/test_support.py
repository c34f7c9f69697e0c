"""The test harness's own promises (tests/support.py)."""

from __future__ import annotations

from tests.support import free_port, free_port_block


def test_a_port_is_never_handed_out_twice_in_a_process() -> None:
    """A platform picks its services' ports before starting any: a repeat was a fixture failing
    on "address already in use" (seen in CI)."""
    singles = [free_port() for _ in range(300)]
    blocks = [free_port_block(7) for _ in range(30)]
    taken = singles + [b + i for b in blocks for i in range(7)]
    assert len(set(taken)) == len(taken)
