"""Deletion plan: the ILP equals brute force on random containment graphs of <= 12 nodes, the greedy
fallback stays feasible and close, and no plan ever chains reconstructions or breaks a latency bound."""

from __future__ import annotations

import numpy as np
import pytest

from curation.lake.plan import (
    Arc,
    Node,
    is_feasible,
    plan_cost,
    plan_deletions,
    solve_brute,
    solve_greedy,
    solve_ilp,
)


def random_graph(rng: np.random.Generator, n: int) -> tuple[list[Node], list[Arc]]:
    sizes = rng.integers(1, 1000, n).astype(float)
    order = np.argsort(sizes)  # containment DAG: small -> larger, plus a few duplicates (mutual arcs)
    nodes = [Node(f"d{i}", storage_cost=float(sizes[i]) * rng.uniform(0.5, 2.0),
                  frequency=float(rng.choice([0.0, 0.1, 1.0, 5.0, 50.0])),
                  latency_bound=None if rng.random() < 0.6 else float(rng.uniform(1, 10)))
             for i in range(n)]
    arcs = []
    for a in range(n):
        for b in range(a + 1, n):
            if rng.random() < 0.35:
                c, p = int(order[a]), int(order[b])
                arcs.append(Arc(c, p, recon_cost=sizes[p] * 0.01 * rng.uniform(0.5, 1.5),
                                latency=float(1 + sizes[p] / 100)))
                if rng.random() < 0.1:
                    arcs.append(Arc(p, c, recon_cost=sizes[c] * 0.01, latency=float(1 + sizes[c] / 100)))
    return nodes, arcs


@pytest.mark.parametrize("seed", range(40))
def test_ilp_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    nodes, arcs = random_graph(rng, int(rng.integers(2, 13)))
    brute = solve_brute(nodes, arcs)
    ilp = solve_ilp(nodes, arcs)
    assert ilp is not None
    assert ilp.cost == pytest.approx(brute.cost, rel=1e-7, abs=1e-9)
    assert is_feasible(nodes, arcs, ilp.assignment)
    assert plan_cost(nodes, arcs, ilp.assignment) == pytest.approx(ilp.cost)
    full = plan_deletions(nodes, arcs)  # per component, ILP
    assert full.cost == pytest.approx(brute.cost, rel=1e-7, abs=1e-9)


def test_greedy_is_feasible_and_close():
    ratios = []
    for seed in range(60):
        rng = np.random.default_rng(1000 + seed)
        nodes, arcs = random_graph(rng, int(rng.integers(2, 13)))
        brute = solve_brute(nodes, arcs)
        greedy = solve_greedy(nodes, arcs)
        assert is_feasible(nodes, arcs, greedy.assignment)
        assert greedy.cost >= brute.cost - 1e-9
        ratios.append(greedy.cost / brute.cost if brute.cost else 1.0)
    assert np.mean(ratios) <= 1.10, f"greedy mean ratio {np.mean(ratios):.3f}"


def test_no_chained_reconstruction_and_latency_bound():
    # a <= b <= c: deleting both a and b (a served by b) would chain; c is too slow for a's bound.
    nodes = [Node("a", 10, 0.0, latency_bound=2.0), Node("b", 10, 0.0), Node("c", 10, 0.0)]
    arcs = [Arc(0, 1, 1, latency=1.0), Arc(1, 2, 1, latency=1.0), Arc(0, 2, 1, latency=5.0)]
    for plan in (solve_ilp(nodes, arcs), solve_greedy(nodes, arcs), solve_brute(nodes, arcs)):
        assert is_feasible(nodes, arcs, plan.assignment)
        for parent in plan.assignment.values():
            assert parent not in plan.assignment
        assert plan.assignment.get(0) in (None, 1)


def test_frequent_access_keeps_a_dataset():
    nodes = [Node("small", 1.0, frequency=100.0), Node("big", 100.0, frequency=1.0)]
    arcs = [Arc(0, 1, recon_cost=0.5)]
    assert plan_deletions(nodes, arcs).assignment == {}
    nodes[0].frequency = 1.0
    assert plan_deletions(nodes, arcs).assignment == {0: 1}
