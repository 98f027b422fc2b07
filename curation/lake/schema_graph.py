"""Schema containment graph: an edge C -> P when C's (name, type) columns are a subset of P's.

Datasets with identical schemas form one class (grouped by a hash of the sorted column set), so the
subset tests run between distinct schemas only, never between all pairs of datasets. For each schema,
its supersets are the intersection of the posting bitsets of its columns (a Python int per column,
starting from the rarest column), so the work is proportional to the columns times the number of
distinct schemas divided by the machine word, not to the square of the datasets.
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.lake.footers import DatasetStats


@dataclass
class SchemaClass:
    key: str
    columns: frozenset[tuple[str, str]]
    members: list[int]  # indices into the dataset list


def schema_classes(stats: list[DatasetStats]) -> list[SchemaClass]:
    """Identical schemas grouped; datasets with errors or no columns are left out."""
    by_key: dict[str, SchemaClass] = {}
    for i, s in enumerate(stats):
        if s.error or not s.schema:
            continue
        k = s.schema_key
        if k not in by_key:
            by_key[k] = SchemaClass(k, frozenset(s.schema.items()), [])
        by_key[k].members.append(i)
    return sorted(by_key.values(), key=lambda c: (len(c.columns), c.key))


def class_edges(classes: list[SchemaClass]) -> list[tuple[int, int]]:
    """Pairs (a, b) of class indices with columns(a) a subset of columns(b), including a == b."""
    postings: dict[tuple[str, str], int] = {}
    for j, c in enumerate(classes):
        for col in c.columns:
            postings[col] = postings.get(col, 0) | (1 << j)
    out = []
    for a, c in enumerate(classes):
        cols = sorted(c.columns, key=lambda col: postings[col].bit_count())
        sup = -1  # all ones
        for col in cols:
            sup &= postings[col]
            if sup == (1 << a):
                break
        b = 0
        while sup:
            low = sup & -sup
            b = low.bit_length() - 1
            out.append((a, b))
            sup ^= low
    return out


def schema_pair_count(classes: list[SchemaClass], edges: list[tuple[int, int]]) -> int:
    """Number of dataset pairs C != P the schema stage admits (counted, not materialised)."""
    n = 0
    for a, b in edges:
        na, nb = len(classes[a].members), len(classes[b].members)
        n += na * nb - (na if a == b else 0)
    return n
