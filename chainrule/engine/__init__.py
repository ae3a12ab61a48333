"""The engine: the recorded graph and the chain rule over it, knowing no Tensor, no op and no particular rule.

Layers, bottom up: ``versions`` (the nodes' timeline and in-place write counters), ``node`` (Node, NotSaved, the
graph's order), ``mode`` (grad mode, per thread), ``chain`` (the chain rule at one node: ``chain_rule``,
``tangent_rule``, ``local_derivative``), ``reverse`` (the backward loop and its fast path), ``forward`` (forward
mode), ``batching`` (many cotangents at once); ``allocator`` sets glibc's heap up for large arrays. The math
namespace ``m`` and the Tensor wrapper are parameters:
``chainrule.tensor`` and ``chainrule.ops`` sit above and pass them in.
"""

from .chain import RuleApplication, chain_rule, local_derivative, tangent_rule, unbroadcast
from .forward import forward_tangents
from .mode import grad_mode, is_grad_enabled, keep_values, no_grad, set_grad_enabled, thread_mode
from .node import Node, NotSaved, reachable_nodes
from .reverse import backward, backward_pass
from .versions import TrackedArray, bump, node_sequence

__all__ = [
    "Node", "NotSaved", "RuleApplication", "TrackedArray", "backward", "backward_pass", "bump", "chain_rule",
    "forward_tangents", "grad_mode", "is_grad_enabled", "keep_values", "local_derivative", "no_grad",
    "node_sequence", "reachable_nodes", "set_grad_enabled", "tangent_rule", "thread_mode", "unbroadcast",
]
