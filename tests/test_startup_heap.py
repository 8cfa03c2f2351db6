"""What the bot built before it starts taking messages is left out of later collections."""

from __future__ import annotations

import gc

from service.runner import freeze_startup_heap


def test_what_startup_built_is_not_walked_again_and_what_comes_after_is() -> None:
    built: list[list[int]] = [[] for _ in range(100)]
    try:
        freeze_startup_heap()
        later: list[list[int]] = [[] for _ in range(100)]
        walked = {id(o) for o in gc.get_objects()}
        assert gc.get_freeze_count() >= len(built)
        assert not [o for o in built if id(o) in walked]
        assert all(id(o) in walked for o in later)
    finally:
        gc.unfreeze()
