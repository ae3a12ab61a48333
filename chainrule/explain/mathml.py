"""TeX to MathML for the rules and formulas an explanation shows, so a page renders them with no script at all.

Current Chromium and Firefox draw MathML Core natively. The TeX comes from two places: the rule table's entries
(``\\frac{d}{du} \\sigma(u) = \\sigma(u)\\,(1 - \\sigma(u))``) and SymPy's ``latex`` of the formulas. Both use a
small subset, which this module covers: groups, ``^`` and ``_``, ``\\frac``, ``\\sqrt``, ``\\left ... \\right``,
``\\text``/``\\operatorname``/``\\mathit``, accents, Greek letters, function names, operators and spaces. Anything
else is shown as its own name, never dropped.

>>> to_mathml(r"\\frac{1}{x}")
'<math><mfrac><mn>1</mn><mi>x</mi></mfrac></math>'
"""

from __future__ import annotations

import html
import re

_GREEK = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
}
_FUNCTIONS = {
    "sin",
    "cos",
    "tan",
    "csc",
    "sec",
    "cot",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "coth",
    "sech",
    "csch",
    "asinh",
    "acosh",
    "atanh",
    "ln",
    "log",
    "exp",
    "max",
    "min",
    "det",
    "sign",
    "erf",
    "lim",
    "arg",
    "Re",
    "Im",
}
_OPERATORS = {
    "cdot": "·",
    "times": "×",
    "partial": "∂",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "lnot": "¬",
    "neg": "¬",
    "circ": "∘",
    "dots": "…",
    "ldots": "…",
    "cdots": "⋯",
    "sum": "∑",
    "prod": "∏",
    "lvert": "|",
    "rvert": "|",
    "vert": "|",
    "infty": "∞",
    "pm": "±",
    "to": "→",
    "mid": "|",
    "odot": "⊙",
    "in": "∈",
    "approx": "≈",
    "leftarrow": "←",
    "rightarrow": "→",
    "{": "{",
    "}": "}",
    "#": "#",
    "%": "%",
    "&": "&",
    "_": "_",
    "|": "‖",
    "langle": "⟨",
    "rangle": "⟩",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "lceil": "⌈",
    "rceil": "⌉",
    "star": "⋆",
    "int": "∫",
    "ast": "∗",
}
_LARGE = {"∑", "∏", "∫"}  # take their scripts below and above, as display maths does
_SPACES = {",": "0.17em", ":": "0.22em", ";": "0.28em", " ": "0.25em", "quad": "1em", "qquad": "2em", "!": "0em"}
_ACCENTS = {"bar": "‾", "overline": "‾", "hat": "^", "widehat": "^", "tilde": "~", "vec": "→", "dot": "˙"}
_TEXT = {"text", "mathrm", "textrm", "operatorname", "mathit", "mathbf", "textit", "mbox", "mathcal"}
_VARIANTS = {"mathrm": "normal", "operatorname": "normal", "mathit": "italic", "textit": "italic", "mathbf": "bold",
             "mathcal": "script"}

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|\s+|.", re.DOTALL)


def _tokens(tex: str) -> list[str]:
    return [t for t in _TOKEN.findall(tex) if not t.isspace()]


class _Parser:
    def __init__(self, tex: str) -> None:
        self.tokens = _tokens(tex)
        self.at = 0
        self.unknown: list[str] = []  # commands shown by name (the tests hold the rule table to none)

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str | None:
        tok = self.peek()
        self.at += tok is not None
        return tok

    def sequence(self, stop: tuple[str, ...] = ()) -> str:
        """Atoms up to one of ``stop`` (not taken) or the end."""
        return "".join(self.items(stop))

    def items(self, stop: tuple[str, ...] = ()) -> list[str]:
        out = []
        while self.peek() is not None and self.peek() not in stop:
            if self.peek() == "}":  # an unmatched brace: shown, not fatal
                self.take()
                out.append("<mo>}</mo>")
                continue
            out.append(self.scripted())
        return [item for item in out if item]

    def group(self) -> str:
        """One argument: a braced group or a single atom, as one MathML element."""
        if self.peek() == "{":
            self.take()
            inner = self.items(("}",))
            self.take()
            return inner[0] if len(inner) == 1 else f"<mrow>{''.join(inner)}</mrow>"  # one element needs no row
        if self.peek() is None:
            return "<mrow></mrow>"
        return self.atom()

    def raw_group(self) -> str:
        """The text of a braced group as written (for \\text{...})."""
        if self.peek() != "{":
            return self.take() or ""
        self.take()
        depth, parts = 0, []
        while self.peek() is not None:
            tok = self.take()
            if tok == "{":
                depth += 1
            elif tok == "}":
                if depth == 0:
                    break
                depth -= 1
            parts.append(tok[1:] if tok.startswith("\\") and len(tok) == 2 else tok)
        return " ".join(parts) if any(len(p) > 1 and p.isalpha() for p in parts[1:]) else "".join(parts)

    def scripted(self) -> str:
        base_token = self.peek()
        base = self.atom()
        sub = sup = None
        while self.peek() in ("^", "_"):
            kind = self.take()
            arg = self.group()
            if kind == "^":
                sup = arg
            else:
                sub = arg
        if sub is None and sup is None:
            return base
        large = base_token in ("\\sum", "\\prod")
        if sub is not None and sup is not None:
            tag = "munderover" if large else "msubsup"
            return f"<{tag}>{base}{sub}{sup}</{tag}>"
        if sub is not None:
            tag = "munder" if large else "msub"
            return f"<{tag}>{base}{sub}</{tag}>"
        tag = "mover" if large else "msup"
        return f"<{tag}>{base}{sup}</{tag}>"

    def atom(self) -> str:
        tok = self.take()
        if tok is None:
            return ""
        if tok == "{":
            inner = self.sequence(("}",))
            self.take()
            return f"<mrow>{inner}</mrow>"
        if tok.startswith("\\"):
            return self.command(tok[1:])
        if tok[0].isdigit():
            return f"<mn>{tok}</mn>"
        if tok.isalpha():
            return f"<mi>{html.escape(tok)}</mi>"
        if tok == "'":
            return "<mo>′</mo>"
        if tok == "-":  # the minus sign, not a hyphen
            return "<mo>−</mo>"
        if tok in "^_":  # a script with no base: on an empty base
            return f"<mi></mi>{'<mo>^</mo>' if tok == '^' else ''}"
        return f"<mo>{html.escape(tok)}</mo>"

    def command(self, name: str) -> str:
        if name == "frac" or name == "dfrac" or name == "tfrac":
            return f"<mfrac>{self.group()}{self.group()}</mfrac>"
        if name == "sqrt":
            if self.peek() == "[":
                self.take()
                index = self.sequence(("]",))
                self.take()
                return f"<mroot>{self.group()}<mrow>{index}</mrow></mroot>"
            return f"<msqrt>{self.group()}</msqrt>"
        if name == "left":
            opening = self.delimiter()
            inner = self.sequence(("\\right",))
            self.take()
            closing = self.delimiter()
            return f"<mrow>{opening}{inner}{closing}</mrow>"
        if name == "right":  # unmatched
            return self.delimiter()
        if name in _TEXT:
            text = html.escape(self.raw_group())
            if name in _VARIANTS:
                variant = _VARIANTS[name]
                return (
                    f'<mi mathvariant="{variant}">{text}</mi>'
                    if variant != "italic" or len(text) > 1
                    else f"<mi>{text}</mi>"
                )
            return f"<mtext>{text}</mtext>"
        if name in _ACCENTS:
            return f'<mover accent="true">{self.group()}<mo>{_ACCENTS[name]}</mo></mover>'
        if name in _GREEK:
            return f"<mi>{_GREEK[name]}</mi>"
        if name in _FUNCTIONS:
            return f'<mi mathvariant="normal">{name}</mi>'
        if name in _OPERATORS:
            symbol = _OPERATORS[name]
            if symbol in _LARGE:
                return f'<mo largeop="true" movablelimits="false">{symbol}</mo>'
            return f"<mo>{html.escape(symbol)}</mo>"
        if name in _SPACES:
            return f'<mspace width="{_SPACES[name]}"></mspace>'
        if name in ("displaystyle", "textstyle", "limits", "nolimits"):
            return ""
        self.unknown.append(name)
        return f'<mi mathvariant="normal">{html.escape(name)}</mi>'

    def delimiter(self) -> str:
        tok = self.take()
        if tok is None or tok == ".":
            return ""
        if tok.startswith("\\"):
            symbol = _OPERATORS.get(tok[1:], tok[1:])
        else:
            symbol = tok
        return f'<mo stretchy="true">{html.escape(symbol)}</mo>'


def to_mathml(tex: str, display: bool = False) -> str:
    """The TeX subset of rules and formulas as a ``<math>`` element (``display="block"`` when ``display``)."""
    if not isinstance(tex, str):
        raise TypeError(f"to_mathml: expected TeX as a str, got {type(tex).__name__}")
    body = _Parser(tex).sequence()
    attribute = ' display="block"' if display else ""
    return f"<math{attribute}>{body}</math>"


def unknown_commands(tex: str) -> list[str]:
    """The TeX commands ``to_mathml`` does not know and shows by name (for tests and checks)."""
    parser = _Parser(tex)
    parser.sequence()
    return parser.unknown
