"""A settled process still frees the reference cycles it makes while serving."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from chatorch import gc_tuning


class _Node:
    def __init__(self) -> None:
        self.partner: _Node | None = None


@pytest.fixture
def settled() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc_tuning.settle()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _cycle() -> "weakref.ref[_Node]":
    first, second = _Node(), _Node()
    first.partner, second.partner = second, first
    return weakref.ref(first)


def test_start_up_objects_are_frozen_and_young_ones_wait_longer(settled: None) -> None:
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD


def test_cycles_made_after_settling_are_still_freed_by_allocation_alone(settled: None) -> None:
    cycle = _cycle()
    assert cycle() is not None
    # No explicit gc.collect(): allocating past the young threshold must trigger it.
    keep = [[] for _ in range(3 * gc_tuning.YOUNG_THRESHOLD)]
    assert cycle() is None
    del keep
