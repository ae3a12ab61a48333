"""The rule table: one entry per primitive, the bottom layer (it imports nothing of chainrule but errors).

registry.py: the Rule record, register/unregister and the expression grammar; elementwise.py: the text's table;
arrays.py: shapes, reductions, indexing, matmul, the softmax family; conv.py: image patches; numpy_math.py: the math
namespace ``m`` for arrays. The engine applies an entry (engine/chain.py), never a rule module itself.
"""
