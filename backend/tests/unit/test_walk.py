"""The graph walk's rules (runtime.md, "Graph semantics"), without a database."""

from __future__ import annotations

import pytest

from app.graphs.walk import GraphWalk, WalkEdge


def _walk(names: str, *edges: tuple[str, str] | tuple[str, str, str]) -> GraphWalk:
    return GraphWalk(names.split(), [WalkEdge(*edge) for edge in edges])


def test_a_chain_becomes_ready_one_node_at_a_time() -> None:
    walk = _walk("t a b", ("t", "a"), ("a", "b"))

    assert walk.roots() == ["t"]
    assert walk.complete("t").ready == ["a"]
    assert walk.complete("a").ready == ["b"]
    step = walk.complete("b")
    assert step.ready == step.skipped == []
    assert walk.leaves() == ["b"]
    assert walk.undecided() == []


def test_a_join_waits_for_every_incoming_edge() -> None:
    walk = _walk("t a b j", ("t", "a"), ("t", "b"), ("a", "j"), ("b", "j"))

    assert walk.complete("t").ready == ["a", "b"]
    assert walk.complete("a").ready == []
    assert walk.complete("b").ready == ["j"]
    assert walk.taken_predecessors("j") == ["a", "b"]


def test_the_branch_not_chosen_is_skipped_and_the_skip_propagates() -> None:
    walk = _walk(
        "t c yes no after_no", ("t", "c"), ("c", "yes", "buy"), ("c", "no", "hold"),
        ("no", "after_no"),
    )  # fmt: skip
    walk.complete("t")

    step = walk.complete("c", "buy")

    assert step.ready == ["yes"]
    assert sorted(step.skipped) == ["after_no", "no"]
    walk.complete("yes")
    assert walk.leaves() == ["yes"]


def test_a_join_with_one_taken_edge_runs_and_sees_only_that_predecessor() -> None:
    walk = _walk("t c x j", ("t", "c"), ("c", "x", "never"), ("x", "j"), ("c", "j", "always"))
    walk.complete("t")

    step = walk.complete("c", "always")

    assert step.skipped == ["x"]
    assert step.ready == ["j"]
    assert walk.taken_predecessors("j") == ["c"]


def test_two_edges_to_one_node_make_it_ready_once() -> None:
    walk = _walk("t c x", ("t", "c"), ("c", "x", "a"), ("c", "x", "b"))
    walk.complete("t")

    assert walk.complete("c", "b").ready == ["x"]


def test_a_node_is_decided_once() -> None:
    walk = _walk("t a", ("t", "a"))
    walk.complete("t")

    with pytest.raises(ValueError, match="already decided"):
        walk.complete("t")


def test_a_long_skipped_chain_does_not_recurse() -> None:
    names = ["t", "c"] + [f"n{i}" for i in range(5000)]
    edges = [("t", "c"), ("c", "n0", "no")] + [(f"n{i}", f"n{i + 1}") for i in range(4999)]
    walk = GraphWalk(names, [WalkEdge(*edge) for edge in edges])
    walk.complete("t")

    step = walk.complete("c", "yes")

    assert len(step.skipped) == 5000
    assert walk.leaves() == ["c"]
