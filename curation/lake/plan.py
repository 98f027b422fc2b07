"""Deletion plan: which contained datasets to delete and serve from a retained parent, at least cost.

Keep x_i in {0, 1}; y_ij = 1 when deleted dataset i is served by filtering retained parent j.
Minimise  sum_i s_i x_i + sum_ij f_i c_ij y_ij   (storage while kept + reconstruction per access)
subject to  x_i + sum_j y_ij = 1,  y_ij <= x_j (no chained reconstruction),  y_ij only on verified edges
whose reconstruction latency is within i's bound. Facility-location-like (NP-hard); solved exactly with
`scipy.optimize.milp` per weakly connected component, with a greedy fallback for components too large
(or a solver failure): repeatedly delete the dataset with the largest positive saving whose best
eligible parent is kept, and pin that parent so it is never deleted itself.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Node:
    name: str
    storage_cost: float  # cost of keeping it for the planning period
    frequency: float  # accesses in the planning period
    latency_bound: float | None = None  # seconds; None: any


@dataclass
class Arc:
    child: int
    parent: int
    recon_cost: float  # cost of one reconstruction of child from parent
    latency: float = 0.0  # seconds for one reconstruction


@dataclass
class Plan:
    assignment: dict[int, int] = field(default_factory=dict)  # deleted child -> serving parent
    cost: float = 0.0
    solver: str = ""


def eligible_arcs(nodes: list[Node], arcs: list[Arc]) -> list[Arc]:
    return [a for a in arcs if a.child != a.parent
            and (nodes[a.child].latency_bound is None or a.latency <= nodes[a.child].latency_bound)]


def plan_cost(nodes: list[Node], arcs: list[Arc], assignment: dict[int, int]) -> float:
    recon = {(a.child, a.parent): a.recon_cost for a in arcs}
    cost = 0.0
    for i, n in enumerate(nodes):
        if i in assignment:
            cost += n.frequency * recon[(i, assignment[i])]
        else:
            cost += n.storage_cost
    return cost


def is_feasible(nodes: list[Node], arcs: list[Arc], assignment: dict[int, int]) -> bool:
    ok = {(a.child, a.parent) for a in eligible_arcs(nodes, arcs)}
    return all((c, p) in ok and p not in assignment for c, p in assignment.items())


def solve_brute(nodes: list[Node], arcs: list[Arc]) -> Plan:
    """Exact by enumerating kept sets (for tests and tiny graphs: 2^n)."""
    arcs = eligible_arcs(nodes, arcs)
    n = len(nodes)
    best = Plan(cost=float("inf"), solver="brute")
    out_arcs: list[list[Arc]] = [[] for _ in range(n)]
    for a in arcs:
        out_arcs[a.child].append(a)
    for kept in itertools.product((0, 1), repeat=n):
        cost, assign = 0.0, {}
        for i in range(n):
            if kept[i]:
                cost += nodes[i].storage_cost
                continue
            options = [(nodes[i].frequency * a.recon_cost, a.parent) for a in out_arcs[i] if kept[a.parent]]
            if not options:
                cost = float("inf")
                break
            c, p = min(options)
            cost += c
            assign[i] = p
        if cost < best.cost:
            best = Plan(assign, cost, "brute")
    return best


def solve_greedy(nodes: list[Node], arcs: list[Arc]) -> Plan:
    arcs = eligible_arcs(nodes, arcs)
    out_arcs: dict[int, list[Arc]] = {}
    for a in arcs:
        out_arcs.setdefault(a.child, []).append(a)
    deleted: dict[int, int] = {}
    pinned: set[int] = set()
    while True:
        best: tuple[float, int, int] | None = None
        for i, options in out_arcs.items():
            if i in deleted or i in pinned:
                continue
            live = [a for a in options if a.parent not in deleted]
            if not live:
                continue
            a = min(live, key=lambda a: (nodes[i].frequency * a.recon_cost, a.parent))
            saving = nodes[i].storage_cost - nodes[i].frequency * a.recon_cost
            if saving > 0 and (best is None or saving > best[0]):
                best = (saving, i, a.parent)
        if best is None:
            break
        _, i, p = best
        deleted[i] = p
        pinned.add(p)
    return Plan(deleted, plan_cost(nodes, arcs, deleted), "greedy")


def solve_ilp(nodes: list[Node], arcs: list[Arc], time_limit: float = 60.0) -> Plan | None:
    """Exact plan with scipy's HiGHS MILP; None when the solver does not prove optimality in time."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    arcs = eligible_arcs(nodes, arcs)
    n, m = len(nodes), len(arcs)
    if m == 0:
        return Plan({}, sum(x.storage_cost for x in nodes), "ilp")
    c = np.array([x.storage_cost for x in nodes] + [nodes[a.child].frequency * a.recon_cost for a in arcs])
    rows, cols, vals = list(range(n)), list(range(n)), [1.0] * n
    for k, a in enumerate(arcs):
        rows.append(a.child)
        cols.append(n + k)
        vals.append(1.0)
    eq = coo_matrix((vals, (rows, cols)), shape=(n, n + m))
    r2, c2, v2 = [], [], []
    for k, a in enumerate(arcs):
        r2 += [k, k]
        c2 += [n + k, a.parent]
        v2 += [1.0, -1.0]
    ub = coo_matrix((v2, (r2, c2)), shape=(m, n + m))
    scale = float(np.abs(c).max()) or 1.0  # costs in currency units can be ~1e-9: solve on a unit scale
    res = milp(c / scale, constraints=[LinearConstraint(eq, 1, 1), LinearConstraint(ub, -np.inf, 0)],
               integrality=np.ones(n + m), bounds=Bounds(0, 1), options={"time_limit": time_limit, "mip_rel_gap": 1e-9})
    if res.status != 0 or res.x is None:
        return None
    y = res.x[n:] > 0.5
    assignment = {arcs[k].child: arcs[k].parent for k in np.nonzero(y)[0]}
    return Plan(assignment, plan_cost(nodes, arcs, assignment), "ilp")


def components(n: int, arcs: list[Arc]) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a in arcs:
        parent[find(a.child)] = find(a.parent)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def plan_deletions(nodes: list[Node], arcs: list[Arc], ilp_max_vars: int = 20_000,
                   time_limit: float = 60.0) -> Plan:
    """Best plan per component: the ILP where it is small enough and solves, else the greedy one."""
    arcs = eligible_arcs(nodes, arcs)
    total = Plan(solver="")
    solvers = set()
    for comp in components(len(nodes), arcs):
        local = {g: i for i, g in enumerate(comp)}
        sub_nodes = [nodes[g] for g in comp]
        sub_arcs = [Arc(local[a.child], local[a.parent], a.recon_cost, a.latency) for a in arcs
                    if a.child in local]
        plan = None
        if sub_arcs and len(comp) + len(sub_arcs) <= ilp_max_vars:
            plan = solve_ilp(sub_nodes, sub_arcs, time_limit)
        greedy = solve_greedy(sub_nodes, sub_arcs)
        if plan is None or greedy.cost < plan.cost * (1 - 1e-9):
            plan = greedy
        if sub_arcs:
            solvers.add(plan.solver)
        total.assignment.update({comp[c]: comp[p] for c, p in plan.assignment.items()})
    total.cost = plan_cost(nodes, arcs, total.assignment)
    total.solver = "+".join(sorted(solvers)) or "none"
    return total
