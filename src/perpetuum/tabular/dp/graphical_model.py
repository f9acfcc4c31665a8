"""The fitted graphical model of a private synthesizer: saved as plain arrays, sampled with our own seeded generator.

The model is a Markov random field over the coded columns (Private-PGM's `mbi.MarkovRandomField`): one log-potential
table per clique of columns. Sampling it is post-processing, so it costs no privacy budget. We sample row by row
along a junction tree (each column given the columns already drawn that share a clique with it) with a NumPy
generator, so a seed reproduces the rows; mbi's own sampler draws from NumPy's global state, and conditions each
column only on the measured cliques' neighbours, which loses dependence on models with cycles (AIM's).

Conditions are evidence: allowed codes of a column get their potential unchanged and the others a potential of
zero (a log-potential far below any other), and the junction tree's marginals are recomputed, so conditioned rows
follow the model's conditional distribution exactly, with no rejection loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EXCLUDED = -1e9  # log-potential of a code that a condition excludes: exp() of it is 0 in float32 and float64


@dataclass
class GraphicalModel:
    """Column names and sizes, the cliques, and one log-potential array per clique."""

    columns: list[str]
    sizes: list[int]
    cliques: list[tuple[str, ...]]
    log_potentials: list[np.ndarray]

    @classmethod
    def from_mbi(cls, model) -> "GraphicalModel":
        potentials = model.potentials
        factors = [potentials[clique] for clique in potentials.cliques]
        domain = potentials.domain
        return cls(
            columns=list(domain.attrs),
            sizes=[int(size) for size in domain.shape],
            # a factor's axes follow its own domain's order, which need not be its clique's: keep the axes' order
            cliques=[tuple(factor.domain.attrs) for factor in factors],
            log_potentials=[np.asarray(factor.values, dtype=np.float64) for factor in factors],
        )

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        state = {"columns": self.columns, "sizes": self.sizes, "cliques": [list(clique) for clique in self.cliques]}
        arrays = {f"potential_{index}": values for index, values in enumerate(self.log_potentials)}
        return state, arrays

    @classmethod
    def from_state(cls, state: dict, arrays: dict[str, np.ndarray]) -> "GraphicalModel":
        return cls(
            columns=list(state["columns"]),
            sizes=[int(size) for size in state["sizes"]],
            cliques=[tuple(clique) for clique in state["cliques"]],
            log_potentials=[arrays[f"potential_{index}"] for index in range(len(state["cliques"]))],
        )

    def sample(self, n: int, rng: np.random.Generator, allowed: dict[str, np.ndarray] | None = None) -> dict:
        """`n` rows of codes, {column: int array}; `allowed` maps a column to the codes it may take."""
        from mbi import CliqueVector, Domain, Factor, junction_tree, marginal_oracles

        domain = Domain(self.columns, self.sizes)
        arrays = {clique: Factor(domain.project(clique), values)
                  for clique, values in zip(self.cliques, self.log_potentials)}
        potentials = CliqueVector(domain, list(self.cliques), arrays)
        tree, elimination_order = junction_tree.make_junction_tree(domain, [set(clique) for clique in self.cliques])
        expanded = potentials.expand(list(tree.nodes))
        for column, codes in (allowed or {}).items():
            node = next(node for node in expanded.cliques if column in node)
            evidence = np.full(self.sizes[self.columns.index(column)], _EXCLUDED)
            evidence[np.asarray(codes, dtype=int)] = 0.0
            expanded.arrays[node] = expanded.arrays[node] + Factor(domain.project((column,)), evidence)
        marginals = marginal_oracles.message_passing_stable(expanded)

        codes: dict[str, np.ndarray] = {}
        nodes = [set(node) for node in tree.nodes]
        for column in elimination_order[::-1]:
            # a column's parents are the columns already drawn that share a junction-tree clique with it: the
            # triangulated graph's neighbours, not only the measured cliques' (mbi's sampler uses those, which drops
            # every dependence that runs through a fill-in edge once the model has a cycle)
            neighbours = set().union(*(node for node in nodes if column in node))
            parents = tuple(name for name in codes if name in neighbours)
            joint = np.asarray(marginals.project(parents + (column,)).datavector(flatten=False), dtype=np.float64)
            codes[column] = _draw_given(joint, [codes[name] for name in parents], n, rng)
        return codes


def _draw_given(joint: np.ndarray, parent_codes: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw the last axis of `joint` given each row's codes for the other axes."""
    joint = np.clip(joint, 0.0, None)
    size = joint.shape[-1]
    table = joint.reshape(-1, size)
    totals = table.sum(axis=1, keepdims=True)
    # a parent combination the model gives no mass to cannot be drawn; uniform keeps the arithmetic defined
    conditional = np.where(totals > 0, table / np.where(totals > 0, totals, 1.0), 1.0 / size)
    cumulative = np.cumsum(conditional, axis=1)
    cumulative[:, -1] = 1.0
    row = np.ravel_multi_index(parent_codes, joint.shape[:-1]) if parent_codes else np.zeros(n, dtype=np.int64)
    draws = rng.random(n)
    chosen = np.empty(n, dtype=np.int64)
    for combination in np.unique(row):
        members = row == combination
        chosen[members] = np.searchsorted(cumulative[combination], draws[members], side="right")
    return np.minimum(chosen, size - 1)
