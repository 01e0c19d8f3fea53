"""Mutation operators: every small, plausible mistake in one function's AST.

:func:`mutants` takes a ``def`` (an ``ast.FunctionDef``) and returns one
:class:`Mutant` per site and kind of mistake, each a whole mutated ``def``:

=================  ===============================================================
binary operator    ``+`` <-> ``-``, ``*`` <-> ``/``, ``**`` -> ``*``, also in ``+=`` ...
dropped term       ``a op b`` -> ``a`` and -> ``b``; a reduction or transpose call
                   -> its argument (``xp.sum(g, axis=0)`` -> ``g``)
dropped statement  an in-place update, a call for its effect (``out=``), a store
                   into a buffer (``dA[...] = ...``)
negation           ``-x`` -> ``x``; a returned gradient -> its negative
returned tuple     two gradients swapped, one gradient -> ``None``
constant           a number ``c`` -> ``c + 1`` and ``c - 1`` (indices, shapes, factors)
axis               ``axis=<expr>`` -> ``axis=None`` and ``axis=0``
needs_input_grad   ``ctx.needs_input_grad[i]`` (or a name bound to it) -> ``[j]``
comparison         ``>`` <-> ``>=``, ``<`` <-> ``<=``, ``==`` <-> ``!=``; ``and`` <-> ``or``;
                   an ``if`` / conditional expression's test negated
argument order     ``subtract(a, b)`` / ``matmul(a, b)`` / ``divide`` swapped,
                   ``where(c, a, b)`` branches swapped
=================  ===============================================================

Mutants whose code is the original's, or another mutant's, are dropped.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

__all__ = ["Mutant", "mutants"]

_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.Pow: ast.Mult, ast.MatMult: ast.Mult}
_COMPARE = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_UNWRAP = {"sum", "mean", "matrix_transpose", "expand_dims", "astype", "broadcast_to",
           "reshape", "permute_dims", "exp", "log", "sqrt", "copy"}
_ORDERED = {"subtract", "matmul", "divide"}          # f(a, b) != f(b, a)


@dataclass(frozen=True)
class Mutant:
    """One mutated function: ``change`` reads ``before -> after`` in source form."""
    target: str            # e.g. "Where.backward" or "sequence_grads"
    change: str            # "before  ->  after" (and "  in <enclosing expression>")
    line: int              # line in the source file of the mutated node
    tree: ast.FunctionDef  # the whole mutated def

    def __str__(self) -> str:
        return f"{self.target} line {self.line}: {self.change}"


def _src(node) -> str:
    return ast.unparse(node) if node is not None else "None"


def _num(node):
    """The value of a number literal (``-1`` parses as ``-(1)``), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _num(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _literal(value):
    return ast.UnaryOp(ast.USub(), ast.Constant(-value)) if value < 0 else ast.Constant(value)


def _name(func) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


class _Sites(ast.NodeTransformer):
    """Walks a def; each ``_offer`` numbers the options it is given. With
    ``target`` set, the option with that number is applied (and only it)."""

    def __init__(self, needs_names: set, needs_limit: int, target: int | None = None):
        self.needs_names, self.needs_limit = needs_names, needs_limit
        self.target, self.offered, self.applied = target, [], None
        self.skip = set()          # ids of constants handled by a more specific rule
        self.ancestors = []

    def visit(self, node):
        self.ancestors.append(node)
        try:
            return super().visit(node)
        finally:
            self.ancestors.pop()

    def _context(self) -> str:
        """The nearest enclosing call, subscript, comparison or and/or (for short changes)."""
        for node in reversed(self.ancestors[:-1]):
            if isinstance(node, (ast.Call, ast.Subscript, ast.Compare, ast.BoolOp)):
                return _src(node)
        return ""

    def _offer(self, node, options):
        """options: (replacement builder) callables; returns the chosen replacement or None."""
        chosen = None
        for make in options:
            if len(self.offered) == self.target:
                before = _src(node)
                chosen = make()
                self.applied = (before, chosen, self._context() if len(before) < 24 else "")
            self.offered.append(getattr(node, "lineno", 0))
        return chosen

    def _result(self, node, options):
        chosen = self._offer(node, options)
        return node if chosen is None else chosen

    # ---- expressions ------------------------------------------------------------
    def visit_BinOp(self, node):
        self.generic_visit(node)
        options = []
        if type(node.op) in _SWAP:
            options.append(lambda: ast.BinOp(node.left, _SWAP[type(node.op)](), node.right))
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            options += [lambda: node.left, lambda: node.right]
        return self._result(node, options)

    def visit_UnaryOp(self, node):
        value = _num(node)
        if value is not None:
            return self._number(node, value)
        self.generic_visit(node)
        if isinstance(node.op, (ast.USub, ast.Not)):
            return self._result(node, [lambda: node.operand])
        return node

    def visit_Constant(self, node):
        value = _num(node)
        if value is None or id(node) in self.skip:
            return node
        return self._number(node, value)

    def _number(self, node, value):
        return self._result(node, [lambda v=v: _literal(v) for v in (value + 1, value - 1)])

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            return node
        return self._result(node, [lambda: ast.Compare(
            node.left, [_COMPARE[type(node.ops[0])]()], node.comparators)])

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return self._result(node, [lambda: ast.BoolOp(other, node.values)])

    def visit_IfExp(self, node):
        self.generic_visit(node)
        return self._result(node, [lambda: ast.IfExp(ast.UnaryOp(ast.Not(), node.test),
                                                     node.body, node.orelse)])

    def visit_Subscript(self, node):
        index = node.slice
        is_needs = (isinstance(node.value, ast.Attribute) and node.value.attr == "needs_input_grad"
                    ) or (isinstance(node.value, ast.Name) and node.value.id in self.needs_names)
        if is_needs and isinstance(index, ast.Constant) and isinstance(index.value, int):
            self.skip.add(id(index))
            self.generic_visit(node)
            return self._result(node, [
                lambda j=j: ast.Subscript(node.value, ast.Constant(j), node.ctx)
                for j in range(self.needs_limit) if j != index.value])
        self.generic_visit(node)
        return node

    def visit_Call(self, node):
        for kw in node.keywords:
            if kw.arg == "axis" and _num(kw.value) is None:
                self.skip.add(id(kw.value))
        self.generic_visit(node)
        name, options = _name(node.func), []
        for k, kw in enumerate(node.keywords):
            if kw.arg == "axis" and _num(kw.value) is None and _src(kw.value) != "None":
                for value in (None, 0):
                    options.append(lambda k=k, value=value: ast.Call(node.func, node.args, [
                        ast.keyword(w.arg, ast.Constant(value)) if i == k else w
                        for i, w in enumerate(node.keywords)]))
        args = node.args
        if name in _UNWRAP and args:
            options.append(lambda: args[-1] if name == "copy" else args[0])
        if name in _ORDERED and len(args) >= 2:
            options.append(lambda: ast.Call(node.func, [args[1], args[0]] + args[2:],
                                            node.keywords))
        if name == "where" and len(args) == 3:
            options.append(lambda: ast.Call(node.func, [args[0], args[2], args[1]],
                                            node.keywords))
        return self._result(node, options)

    # ---- statements -------------------------------------------------------------
    def visit_AugAssign(self, node):
        self.generic_visit(node)
        options = [lambda: ast.Pass()]
        if type(node.op) in _SWAP:
            options.append(lambda: ast.AugAssign(node.target, _SWAP[type(node.op)](), node.value))
        return self._result(node, options)

    def visit_Expr(self, node):
        self.generic_visit(node)
        if not isinstance(node.value, ast.Call):
            return node
        return self._result(node, [lambda: ast.Pass()])

    def visit_Assign(self, node):
        self.generic_visit(node)
        if not all(isinstance(t, ast.Subscript) for t in node.targets):
            return node
        return self._result(node, [lambda: ast.Pass()])

    def visit_If(self, node):
        self.generic_visit(node)
        return self._result(node, [lambda: ast.If(ast.UnaryOp(ast.Not(), node.test),
                                                  node.body, node.orelse)])

    def visit_Return(self, node):
        self.generic_visit(node)
        value = node.value
        if value is None:
            return node
        items = value.elts if isinstance(value, ast.Tuple) else None
        if items is None:
            return self._result(node, [lambda: ast.Return(ast.UnaryOp(ast.USub(), value))])
        options = []
        n = len(items)
        for i in range(n):
            for j in range(i + 1, n):
                def swapped(i=i, j=j):
                    elts = list(items)
                    elts[i], elts[j] = elts[j], elts[i]
                    return ast.Return(ast.Tuple(elts, ast.Load()))
                options.append(swapped)
        for i, item in enumerate(items):
            if _src(item) == "None":
                continue
            for new in (ast.Constant(None), ast.UnaryOp(ast.USub(), item)):
                options.append(lambda i=i, new=new: ast.Return(ast.Tuple(
                    [new if k == i else e for k, e in enumerate(items)], ast.Load())))
        return self._result(node, options)


def _needs(fdef: ast.FunctionDef) -> set:
    """Names that stand for ``ctx.needs_input_grad`` in ``fdef``: a parameter
    called ``needs`` and any name assigned ``ctx.needs_input_grad``."""
    names = {a.arg for a in fdef.args.args if a.arg == "needs"}
    for node in ast.walk(fdef):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute) and \
                node.value.attr == "needs_input_grad":
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def mutants(target: str, fdef: ast.FunctionDef, inputs: int | None = None) -> list[Mutant]:
    """Every mutant of ``fdef`` (decorators removed). ``inputs``: how many inputs
    the op has (the range of needs_input_grad indices); None takes the largest
    index used in ``fdef``, plus one."""
    fdef = copy.deepcopy(fdef)
    fdef.decorator_list = []
    names = _needs(fdef)
    if inputs is None:
        indices = [n.slice.value for n in ast.walk(fdef) if isinstance(n, ast.Subscript)
                   and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, int)
                   and ((isinstance(n.value, ast.Name) and n.value.id in names) or
                        (isinstance(n.value, ast.Attribute) and n.value.attr == "needs_input_grad"))]
        inputs = max(indices, default=-1) + 1
    counter = _Sites(names, inputs)
    counter.visit(copy.deepcopy(fdef))
    seen = {ast.unparse(fdef)}
    out = []
    for k in range(len(counter.offered)):
        sites = _Sites(names, inputs, target=k)
        tree = ast.fix_missing_locations(sites.visit(copy.deepcopy(fdef)))
        code = ast.unparse(tree)
        if code in seen or sites.applied is None:
            continue
        seen.add(code)
        before, after, context = sites.applied
        change = f"{before}  ->  {'(deleted)' if isinstance(after, ast.Pass) else _src(after)}"
        change += f"  in {context}" if context else ""
        out.append(Mutant(target, change, counter.offered[k], tree))
    return out
