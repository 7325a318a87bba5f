"""The rule that keeps a floor room's forwards clear of Janus 1.1.2's shared-length bug (forward_rules.py): the
per-speaker mix's group forwards and a second forward of the whole mix never together."""

from __future__ import annotations

import pytest

from salon.adapters.janus.forward_rules import may_coexist, whole_mix_forwards


def test_the_original_alone_forwards_the_whole_mix_once() -> None:
    assert whole_mix_forwards(channels=0, broadcast_nodes=0) == 1


def test_each_channel_and_each_broadcast_node_is_one_more_whole_mix_forward() -> None:
    assert whole_mix_forwards(channels=2, broadcast_nodes=0) == 3
    assert whole_mix_forwards(channels=0, broadcast_nodes=1) == 2
    assert whole_mix_forwards(channels=1, broadcast_nodes=3) == 5


def test_negative_counts_are_a_bug_of_the_caller() -> None:
    with pytest.raises(ValueError, match="never negative"):
        whole_mix_forwards(channels=-1, broadcast_nodes=0)
    with pytest.raises(ValueError, match="never negative"):
        whole_mix_forwards(channels=0, broadcast_nodes=-1)


def test_group_forwards_go_with_the_original_alone() -> None:
    assert may_coexist(group_forwards=True, whole_mix=1)


@pytest.mark.parametrize("whole_mix", [2, 3, 10])
def test_group_forwards_never_go_with_a_second_whole_mix_forward(whole_mix: int) -> None:
    assert not may_coexist(group_forwards=True, whole_mix=whole_mix)


@pytest.mark.parametrize("whole_mix", [1, 2, 10])
def test_without_group_forwards_any_number_of_whole_mix_forwards_is_safe(whole_mix: int) -> None:
    # Every forwarder of the room is then of the one group (the whole mix): the length set is always its own.
    assert may_coexist(group_forwards=False, whole_mix=whole_mix)
