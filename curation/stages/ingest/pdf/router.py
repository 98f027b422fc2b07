"""AdaParse routing: validity gate, predicted accuracies, and the budget rule (docs/PAPERS.md 1a steps 2, 3, 5, 6).

Per unit (page or document): gate the text layer, predict every parser's accuracy, propose the expensive
parser where it beats the best cheap one by more than `min_gain`, and send at most floor(alpha * units)
proposals to it, ordered by one of `RANKINGS` ("tiered" is the default). `select_global` caps over the whole
input; `BudgetRouter.route` is the streaming per-batch variant. Design: docs/DESIGN.md#pdf-router-ranking
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from curation.stages.ingest.pdf.features import PageStructure, TextStats


@dataclass
class GateThresholds:
    min_chars_image_page: int = 100
    min_image_area: float = 0.3
    max_cid_frac: float = 0.05
    max_bad_char_frac: float = 0.05
    max_space_frac: float = 0.45
    max_single_char_word_frac: float = 0.6
    min_words_for_shape: int = 20


def validity_gate(stats: TextStats, structure: PageStructure, th: GateThresholds) -> str | None:
    """Why the cheap text layer of a page is invalid, or None when it looks usable.

    A page with little text is invalid only when images cover much of it (a scan): a nearly blank
    born-digital page has nothing for OCR to find either.
    """
    if stats.n_chars < th.min_chars_image_page and structure.image_area_frac >= th.min_image_area:
        return "no_text_layer" if stats.n_chars == 0 else "little_text_on_image"
    if stats.cid_frac > th.max_cid_frac:
        return "cid_garbage"
    if stats.bad_char_frac > th.max_bad_char_frac:
        return "replacement_chars"
    if stats.n_words >= th.min_words_for_shape and (
            stats.space_frac > th.max_space_frac or stats.single_letter_frac > th.max_single_char_word_frac):
        return "absurd_whitespace"
    return None


def alpha_from_budget(budget_s_per_unit: float, cheap_s: float, expensive_s: float) -> float:
    """AdaParse App. C: alpha <= (T - n*t_c) / (n*(t_e - t_c)), here per unit (T/n = budget per unit), in [0, 1]."""
    if expensive_s <= cheap_s:
        return 1.0
    return float(min(1.0, max(0.0, (budget_s_per_unit - cheap_s) / (expensive_s - cheap_s))))


NO_TEXT_GATES = ("no_text_layer", "little_text_on_image")
RANKINGS = ("tiered", "improvement", "tiered_per_second", "per_second")
PER_SECOND = ("tiered_per_second", "per_second")


def _gate_priority(gate: str | None) -> int:
    """Budget order: pages with no text layer at all (nothing to lose, certain gain), then other gate verdicts
    (garbage text layers; the gate can be wrong there), then the rest by expected improvement."""
    if gate in NO_TEXT_GATES:
        return 2
    return 1 if gate else 0


@dataclass
class Decision:
    """The router's verdict for one unit."""

    parser: str
    predicted: dict[str, float]
    gate: str | None = None
    proposed_expensive: bool = False
    improvement: float = 0.0
    cost: float | None = None
    """Predicted seconds of the expensive parser on this unit (None: unknown, every unit costs the same)."""


@dataclass
class BudgetRouter:
    """Routes units under `alpha`, remembering what it has spent across calls (one instance per worker)."""

    cheap: list[str]
    expensive: str
    alpha: float
    min_gain: float = 0.0
    primary: str = "pdfium"
    ranking: str = "tiered"
    seconds_per_unit: float | None = None
    """When set, the budget is accounted in predicted expensive-parser seconds instead of units: of the units seen
    so far, ranked proposals go to the expensive parser while their predicted seconds (`costs`) stay within
    seconds_per_unit * units (see seconds_budget_per_unit); alpha is then not used. Needs `costs`."""
    seen: int = 0
    spent: int = 0
    spent_s: float = 0.0
    proposals: int = 0
    gated: int = 0
    history: list[int] = field(default_factory=list)

    def allowance(self, k: int) -> int:
        """How many of the next `k` units may go to the expensive parser."""
        return max(0, math.floor(self.alpha * (self.seen + k) + 1e-9) - self.spent)

    def propose(self, predicted: np.ndarray, names: list[str], gates: list[str | None],
                costs: np.ndarray | list[float] | None = None) -> list[Decision]:
        """Uncapped decisions: best cheap parser per unit, and whether the expensive one is proposed.
        `costs`: predicted expensive-parser seconds per unit (used by the per-second rankings)."""
        decisions = []
        cheap_cols = [names.index(c) for c in self.cheap if c in names]
        e_col = names.index(self.expensive) if self.expensive in names else None
        for i in range(len(gates)):
            pred = {n: float(predicted[i, j]) for j, n in enumerate(names)}
            if gates[i]:
                for c in self.cheap:
                    if c in pred:
                        pred[c] = 0.0
            best_cheap = max(cheap_cols, key=lambda j: pred[names[j]], default=None)
            cheap_name = names[best_cheap] if best_cheap is not None else self.primary
            cheap_score = pred.get(cheap_name, 0.0)
            gain = (pred[self.expensive] - cheap_score) if e_col is not None else 0.0
            if gates[i] and e_col is None:
                gain = 1.0
            proposed = bool(gates[i]) or gain > self.min_gain
            cost = float(costs[i]) if costs is not None else None
            decisions.append(Decision(cheap_name, pred, gates[i], proposed, gain, cost))
        return decisions

    def route(self, predicted: np.ndarray, names: list[str], gates: list[str | None],
              costs: np.ndarray | list[float] | None = None) -> list[Decision]:
        """Propose, then cap this batch at the allowance. `predicted`: units x parsers (columns named by `names`)."""
        k = len(gates)
        decisions = self.propose(predicted, names, gates, costs)
        proposed_idx = [i for i, d in enumerate(decisions) if d.proposed_expensive]
        ranked = sorted(proposed_idx, key=lambda i: (-priority(decisions[i], self.ranking), i))
        if self.seconds_per_unit is None:
            take = ranked[:self.allowance(k)]
        else:
            if costs is None:
                raise ValueError("a seconds budget needs the predicted expensive-parser seconds of every unit")
            room = self.seconds_per_unit * (self.seen + k) - self.spent_s
            take = prefix_within_seconds([decisions[i].cost or 0.0 for i in ranked], room)
            take = ranked[:len(take)]
            self.spent_s += sum(decisions[i].cost or 0.0 for i in take)
        for i in take:
            decisions[i].parser = self.expensive
        self.seen += k
        chosen = len(take)
        self.spent += chosen
        self.proposals += len(proposed_idx)
        self.gated += sum(1 for g in gates if g)
        self.history.append(chosen)
        return decisions


def priority(d: Decision, ranking: str = "tiered") -> float:
    """One number that orders proposals for the budget.

    "tiered": gate class first (no text layer, then other gate verdicts), then expected improvement in [-1, 1];
    "improvement": expected improvement alone (a gated page's cheap accuracy is already 0 in `d.improvement`);
    "tiered_per_second" / "per_second": expected improvement per predicted expensive-parser second (`d.cost`),
    within the gate classes / over all proposals, squashed into (-1, 1) so a tier's band stays below the next one's.
    """
    if ranking == "improvement":
        return d.improvement
    if ranking in PER_SECOND:
        r = per_second(d)
        return (10.0 * _gate_priority(d.gate) if ranking == "tiered_per_second" else 0.0) + r / (1.0 + abs(r))
    if ranking != "tiered":
        raise ValueError(f"unknown ranking {ranking!r} (one of {', '.join(RANKINGS)})")
    return 10.0 * _gate_priority(d.gate) + d.improvement


def per_second(d: Decision) -> float:
    """Expected improvement per predicted second of the expensive parser (the knapsack's value density).

    Without a cost it is the improvement itself (every unit costs one). A negative improvement is multiplied by
    the cost instead, so that a dearer page with the same loss still ranks lower.
    """
    c = d.cost if d.cost is not None and d.cost > 0 else 1.0
    return d.improvement / c if d.improvement >= 0 else d.improvement * c


def seconds_budget_per_unit(budget_s_per_unit: float, cheap_s: float) -> float:
    """docs/PAPERS.md 1a step 6 with per-page costs: of a compute budget T = n * budget_s_per_unit, the cheap pass takes
    n * t_c; the rest, n * (budget - t_c), is what the expensive parser's predicted seconds may add up to."""
    return max(0.0, budget_s_per_unit - cheap_s)


def prefix_within_seconds(costs: list[float], room: float) -> list[int]:
    """Indices of the longest prefix of `costs` (units in rank order) whose sum fits in `room` seconds.

    A prefix, not a greedy fill that skips a unit that does not fit: the order stays the ranking's, and on Spark
    it is a running sum over the ordered proposals."""
    out, spent = [], 0.0
    for i, c in enumerate(costs):
        if spent + c > room + 1e-9:
            break
        spent += c
        out.append(i)
    return out


def budget_units(alpha: float, units: int) -> int:
    """How many units (pages or documents) may go to the expensive parser: floor(alpha * units)."""
    return max(0, math.floor(alpha * units + 1e-9))


def select_global(candidates: list[tuple[float, object]], alpha: float, units: int, required: Collection = (),
                  hard_cap: float | None = None) -> list[object]:
    """The budget rule over a whole corpus: every `required` candidate, plus the floor(alpha * units) optional
    candidates with the highest priority.

    `candidates`: (priority, id) of proposed units; ties are broken by id order so the choice is deterministic.
    `required`: ids of units that fail the validity gate (no usable text layer): the cheap parse has nothing to
    offer there, so they are not a choice and do not spend `alpha`. `hard_cap` (a share of units) caps the total,
    required ones first, highest priority first; what it leaves out is reported by the caller, never kept empty.
    """
    ranked = sorted(candidates, key=lambda c: (-c[0], c[1]))
    must = [c[1] for c in ranked if c[1] in required]
    k = budget_units(alpha, units)
    if hard_cap is not None:
        cap = budget_units(hard_cap, units)
        must = must[:cap]
        k = min(k, cap - len(must))
    return must + [c[1] for c in ranked if c[1] not in required][:k]
