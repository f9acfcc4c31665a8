"""The box (per-feature lower and upper bounds) that each leaf of a fitted scikit-learn forest covers."""

from __future__ import annotations

import numpy as np


def leaf_boxes(forest, leaf_nodes: list[np.ndarray], features: list[int], n_features: int):
    """Bounds of each leaf, stacked over trees in the order of `leaf_nodes` (one array of node ids per tree).

    Returns (low, high), each of shape (total leaves, n_features); unbounded sides are ±inf and only the listed
    `features` are tracked (others stay ±inf). A leaf holds x when low < x <= high, as scikit-learn sends
    x <= threshold to the left child.
    """
    tracked = np.zeros(n_features, dtype=bool)
    tracked[features] = True
    lows, highs = [], []
    for estimator, nodes in zip(forest.estimators_, leaf_nodes):
        tree = estimator.tree_
        low = np.full((tree.node_count, n_features), -np.inf)
        high = np.full((tree.node_count, n_features), np.inf)
        # scikit-learn numbers nodes depth-first, so a parent always comes before its children
        for node in range(tree.node_count):
            left, right = tree.children_left[node], tree.children_right[node]
            if left < 0:
                continue
            low[left], high[left] = low[node], high[node]
            low[right], high[right] = low[node], high[node]
            feature, threshold = tree.feature[node], tree.threshold[node]
            if tracked[feature]:
                high[left, feature] = min(high[node, feature], threshold)
                low[right, feature] = max(low[node, feature], threshold)
        lows.append(low[nodes])
        highs.append(high[nodes])
    return np.vstack(lows), np.vstack(highs)
