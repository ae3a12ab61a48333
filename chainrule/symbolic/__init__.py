"""Symbolic side of chainrule: a safe parser for math expressions (:mod:`chainrule.symbolic.parser`)."""
