"""Forward mode over a recorded graph: tangents pushed from the leaves to the root, oldest node first."""

from __future__ import annotations

from typing import Any

from .chain import tangent_rule
from .node import reachable_nodes
from .reverse import _differentiable_inputs
from .versions import LAST_WRITE
from .versions import check as check_versions


# ---------------------------------------------------------------------------------------------------------------
# Forward mode over a recorded graph.
# ---------------------------------------------------------------------------------------------------------------
def forward_tangents(root: Any, tangents: dict[Any, Any], m, wrap=None) -> Any:
    """Push tangents (a dict from leaf Tensor to tangent) through the graph: the output's tangent, or None.

    Each node's output tangent comes from ``tangent_rule``; with ``wrap``, on Tensors connected to the graph.
    """
    tangent_of: dict[Any, Any] = dict(tangents)
    for node in reachable_nodes(root):
        ts = [tangent_of.get(p) if p is not None else None for p in node.parents]
        if all(t is None for t in ts):
            continue
        if LAST_WRITE[0] > node.seq and node.output is not None:
            check_versions(node, forward=True)
        if wrap is None:
            tangent_of[node] = tangent_rule(node, ts, m)
        else:
            tangent_of[node] = tangent_rule(node, ts, m, _differentiable_inputs(node, wrap), wrap(node))
    key = root.node if root.node is not None else root
    return tangent_of.get(key)
