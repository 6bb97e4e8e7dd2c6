"""Python statements to IR nodes: appends, assignments, forks, joins; the unsupported ones are
errors with a hint (control flow is in control.py, program calls in inlining.py)."""

from __future__ import annotations

import ast

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.appends import AppendLowering
from lmc.compiler.frontend.context import Binding, Item
from lmc.compiler.frontend.kinds import STATE, Kind
from lmc.plan.expr import BinOp, Call, Const, Expr, Name, Pattern
from lmc.plan.ir import Assign, Break, Continue, Fork, Join, Loop, RoleBegin, RoleEnd
from lmc.plan.language import ROLES
from lmc.plan.program import Program

UNSUPPORTED = {
    "Try": ("try/except cannot wrap the steps of a program",
            "remove it: a row that fails becomes an error row and the other rows go on"),
    "TryStar": ("try/except* cannot wrap the steps of a program", "remove it"),
    "AsyncWith": ("`async with` cannot run inside a program", "do it outside the program"),
    "Raise": ("`raise` cannot be compiled", "check inputs before running, or return an error field"),
    "Assert": ("`assert` cannot be compiled", "check inputs before running the program"),
    "Import": ("imports cannot run inside a program", "move the import to the top of the module"),
    "ImportFrom": ("imports cannot run inside a program", "move the import to the top of the module"),
    "Global": ("`global` would let the program mutate module state (rows run concurrently, in any order)",
               "return values in the output dict instead of writing globals"),
    "Nonlocal": ("`nonlocal` would let the program mutate outer state", "return values instead"),
    "Delete": ("`del` is not supported", "rebind the name to a new value instead"),
    "FunctionDef": ("a function defined inside a program cannot be analysed",
                    "define it at module level, decorated with @lmc.program (it is inlined)"),
    "AsyncFunctionDef": ("a function defined inside a program cannot be analysed",
                         "define it at module level, decorated with @lmc.program"),
    "ClassDef": ("a class defined inside a program cannot be analysed", "define it at module level"),
    "Match": ("`match` is not supported", "use if/elif"),
    "AsyncFor": ("`async for` cannot run inside a program", "use a plain for loop"),
}


class StatementLowering(AppendLowering):
    def lower_block(self, stmts: list[ast.stmt]) -> list[Item]:
        return [item for st in stmts for item in self.lower_stmt(st)]

    def lower_stmt(self, st: ast.stmt) -> list[Item]:
        name = type(st).__name__
        if name in UNSUPPORTED:
            message, hint = UNSUPPORTED[name]
            raise self.error(st, message, hint)
        return getattr(self, f"_stmt_{name}")(st)

    def _stmt_Pass(self, st: ast.Pass) -> list[Item]:
        return []

    def _stmt_Return(self, st: ast.Return) -> list[Item]:
        raise self.error(st, "`return` is allowed only as the last statement of a program",
                         "compute the outputs into variables and `return {...}` at the end")

    def _stmt_Break(self, st: ast.Break) -> list[Item]:
        return [Item(Break(self.span(st)))]

    def _stmt_Continue(self, st: ast.Continue) -> list[Item]:
        return [Item(Continue(self.span(st)))]

    # -- expression statements -----------------------------------------------------------------
    def _stmt_Expr(self, st: ast.Expr) -> list[Item]:
        value = st.value
        if isinstance(value, ast.Constant):
            return []  # docstrings and `...`
        if isinstance(value, ast.Call):
            callee = self.program_callee(value)
            if callee is not None:
                return self.inline(value, callee)
            if isinstance(value.func, ast.Attribute) and value.func.attr == "join":
                state, kind = self.lower_expr(value.func.value)
                if kind.tag in ("list", "tuple") and K.has_state(kind):
                    return self._fork_list_join(value)
                if kind == STATE:
                    if len(value.args) != 1 or value.keywords:
                        raise self.error(value, "s.join(forks) takes the list of forks")
                    forks, _ = self.lower_expr(value.args[0])
                    return [Item(Join(state, forks, self.span(st)))]
            if self.primitive_of(value):
                raise self.error(value, f"`{ast.unparse(value.func)}(...)` on its own does nothing",
                                 f"append it to a state: s += {ast.unparse(value)}")
        self.lower_expr(value)
        raise self.error(value, "the value of this expression is unused",
                         "append it to the state (s += ...) or assign it to a name")

    def _fork_list_join(self, call: ast.Call) -> list[Item]:
        """`forks.join()`: SGLang's default mode gathers the branches' variables, which reading
        `forks[i][name]` already does (an implicit join), so it adds no node; mode
        "concate_and_append" is a Join node on the fork list (the interpreter finds its parent)."""
        if call.args or any(kw.arg != "mode" for kw in call.keywords):
            raise self.error(call, "forks.join() takes only mode=", "write forks.join()")
        mode = next((kw.value for kw in call.keywords), None)
        if mode is None or (isinstance(mode, ast.Constant) and mode.value == "gather_variable"):
            return []
        if isinstance(mode, ast.Constant) and mode.value == "concate_and_append":
            forks, _ = self.lower_expr(call.func.value)  # the join names the forks' parent itself
            return [Item(Join(forks, forks, self.span(call), mode="concate_and_append"))]
        raise self.error(mode, f"unknown join mode {ast.unparse(mode)}",
                         "SGLang's modes are \"gather_variable\" (the default) and \"concate_and_append\"")

    # -- with blocks ---------------------------------------------------------------------------
    def _stmt_With(self, st: ast.With) -> list[Item]:
        """`with s.user():` (any role) wraps the body's appends in that role, as SGLang does."""
        item = st.items[0] if len(st.items) == 1 else None
        call = item.context_expr if item is not None and item.optional_vars is None else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            raise self.error(st, "`with` blocks cannot run inside a program, apart from roles",
                             "write `with s.user():` (or system/assistant); open files outside the program")
        state, kind = self.lower_expr(call.func.value)
        attr = call.func.attr
        if kind != STATE or attr not in ROLES:
            if kind == STATE and attr == "var_scope":
                raise self.error(call, "s.var_scope(name) is not supported by lmc yet",
                                 "generate the value with lmc.gen(name, ...) instead")
            raise self.error(call, f"`with {ast.unparse(call)}:` is not a role block",
                             "write `with s.user():`, `with s.assistant():` or `with s.system():`")
        if call.args or call.keywords:
            raise self.error(call, f"s.{attr}() in a with block takes no arguments")
        span = self.span(call)
        return [Item(RoleBegin(state, attr, span)), *self.lower_block(st.body), Item(RoleEnd(state, attr, span))]

    def program_callee(self, value: ast.expr) -> Program | None:
        if isinstance(value, ast.Call):
            target = self.static_object(value.func)
            if isinstance(target, Program):
                return target
        return None

    # -- assignment ----------------------------------------------------------------------------
    def _stmt_Assign(self, st: ast.Assign) -> list[Item]:
        if len(st.targets) != 1:
            raise self.error(st, "chained assignment (a = b = ...) is not supported", "assign one target per statement")
        return self.assign(st.targets[0], st.value, st)

    def _stmt_AnnAssign(self, st: ast.AnnAssign) -> list[Item]:
        if st.value is None:
            return []
        return self.assign(st.target, st.value, st)

    def assign(self, target: ast.expr, value: ast.expr, st: ast.stmt) -> list[Item]:
        self._check_target(target, value)
        fork = self._fork_call(value)
        if fork is not None:
            return [self._fork(target, fork[0], fork[1], st)]
        callee = self.program_callee(value)
        if callee is not None:
            return self.inline(value, callee, target)
        nested = self.find_primitive(value)
        if nested is not None:
            raise self.error(nested, f"`{ast.unparse(nested.func)}(...)` must be appended to a state, not assigned",
                             "write s += lmc.gen(\"name\", ...) and read it back with s[\"name\"]")
        expr, kind = self.folded(value)
        pattern = self.bind_target(target, kind)
        return [Item(Assign(pattern, expr, self.span(st)))]

    def _check_target(self, target: ast.expr, value: ast.expr | None = None) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                if isinstance(elt, ast.Starred):
                    fork = value is not None and self._is_fork_syntax(value)
                    raise self.error(elt, "starred unpacking of forks is not supported" if fork
                                     else "starred unpacking is not supported",
                                     "keep the list: forks = s.fork(n), then index forks[i]" if fork
                                     else "index the sequence instead")
                self._check_target(elt)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            raise self._mutation_error(target)
        elif not isinstance(target, ast.Name):
            raise self.error(target, "this assignment target is not supported", "assign to a name")

    def _mutation_error(self, target: ast.expr) -> Exception:
        root = target
        while isinstance(root, (ast.Subscript, ast.Attribute)):
            root = root.value
        if isinstance(root, ast.Name):
            binding = self.frame.bindings.get(root.id)
            if binding is not None and binding.kind == STATE and isinstance(target, ast.Subscript):
                return self.error(target, "state variables are set only by gens and selects",
                                  "append the value as text, or keep it in a local variable")
            if binding is None and root.id not in self.frame.local_names:
                return self.error(target, f"this mutates the global `{root.id}`; programs must not change module state",
                                  "rows run concurrently and in any order: return the value in the output dict instead")
        return self.error(target, "assigning into a container or attribute mutates it, which programs cannot do",
                          "build a new value: d = {**d, key: value}, xs = xs + [value]")

    def bind(self, name: str, kind: Kind, node: ast.AST) -> str:
        binding = self.frame.bindings.get(name)
        if binding is None:
            binding = Binding(self.frame.prefix + name, kind)
            self.frame.bindings[name] = binding
            return binding.ir
        merged = K.merge(binding.kind, kind)
        if merged is None:
            raise self.error(node, f"`{name}` holds a {binding.kind} and cannot be rebound to a {kind}",
                             "use a different name for the new value")
        binding.kind = merged
        return binding.ir

    def bind_target(self, target: ast.expr, kind: Kind) -> Pattern:
        if isinstance(target, ast.Name):
            return self.bind(target.id, kind, target)
        if isinstance(target, (ast.Tuple, ast.List)):
            parts = K.unpack(kind, len(target.elts))
            if parts is None:
                raise self.error(target, f"cannot unpack a {kind} into {len(target.elts)} names")
            return tuple(self.bind_target(t, k) for t, k in zip(target.elts, parts))
        raise self.error(target, "this assignment target is not supported", "assign to a name")

    def _stmt_AugAssign(self, st: ast.AugAssign) -> list[Item]:
        target = st.target
        if isinstance(target, ast.Subscript):
            state, kind = self.lower_expr(target)
            if kind == STATE:
                return self._append(state, st)
            raise self._mutation_error(target)
        if isinstance(target, ast.Attribute):
            raise self._mutation_error(target)
        assert isinstance(target, ast.Name)
        current, kind = self.lower_expr(target)
        if kind == STATE:
            return self._append(current, st)
        if K.has_state(kind):
            return self._append_each(target, current, kind, st)
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}.get(type(st.op))
        if op is None:
            raise self.error(st, "this augmented operator is not supported", "use + - * / // %")
        nested = self.find_primitive(st.value)
        if nested is not None:
            raise self.error(nested, "gens can only be appended to a state",
                             f"`{target.id}` is not a state; write s += lmc.gen(...)")
        rhs, rk = self.lower_expr(st.value)
        if K.has_state(rk):
            raise self.error(st.value, "a state cannot be used in arithmetic")
        self.bind(target.id, K.join(kind, rk), target)
        return [Item(Assign(self.frame.bindings[target.id].ir, BinOp(op, current, rhs), self.span(st)))]

    def _append_each(self, target: ast.Name, forks: Expr, kind: Kind, st: ast.AugAssign) -> list[Item]:
        """`forks += x` appends x to every branch (SGLang's fork list); `forks += lambda i: ...`
        appends what the lambda gives for branch i. Lowered to a loop over the branches."""
        elem = K.element(kind)
        if not isinstance(st.op, ast.Add) or elem != STATE:
            raise self.error(st, "a list of forks only supports +=", "write forks += \"text\" or forks += lmc.gen(...)")
        branch = self.bind(f"{target.id}#each", STATE, target)
        rhs = st.value
        if isinstance(rhs, ast.Lambda):
            params = rhs.args
            if len(params.args) != 1 or params.posonlyargs or params.kwonlyargs or params.vararg or params.kwarg:
                raise self.error(rhs, "forks += lambda takes one argument, the branch index: lambda i: ...")
            index = self.bind(params.args[0].arg, K.PARAM, rhs)
            loop = Loop((index, branch), Call("enumerate", (forks,), ()), self.span(st))
            return [Item(loop, {"body": self.lower_append(Name(branch), rhs.body)})]
        return [Item(Loop(branch, forks, self.span(st)), {"body": self.lower_append(Name(branch), rhs)})]

    def _append(self, state: Expr, st: ast.AugAssign) -> list[Item]:
        if not isinstance(st.op, ast.Add):
            raise self.error(st, "a state only supports +=", "append with s += ...")
        return self.lower_append(state, st.value)

    # -- forks ---------------------------------------------------------------------------------
    def _is_fork_syntax(self, value: ast.expr) -> bool:
        return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                and value.func.attr == "fork")

    def _fork_call(self, value: ast.expr) -> tuple[Expr, ast.Call] | None:
        if not self._is_fork_syntax(value):
            return None
        assert isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
        state, kind = self.lower_expr(value.func.value)
        return (state, value) if kind == STATE else None

    def _fork(self, target: ast.expr, state: Expr, call: ast.Call, st: ast.stmt) -> Item:
        if len(call.args) != 1 or call.keywords:
            raise self.error(call, "s.fork(n) takes the number of branches")
        n, kind = self.folded(call.args[0])
        if K.is_gen(kind) or K.has_state(kind):
            raise self.error(call.args[0], "the number of branches must be known before the run",
                             "fork a fixed or input-dependent number, e.g. s.fork(len(options))")
        if isinstance(n, Const) and (not isinstance(n.value, int) or isinstance(n.value, bool) or n.value < 1):
            raise self.error(call.args[0], f"s.fork(n) needs an int n >= 1, got {n.value!r}")
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(n, Const) and n.value != len(target.elts):
                raise self.error(target, f"{len(target.elts)} names for {n.value} branches")
            pattern = self.bind_target(target, K.tuple_of(*[STATE] * len(target.elts)))
        else:
            pattern = self.bind_target(target, K.list_of(STATE))
        return Item(Fork(state, (pattern,), (n,), span=self.span(st)))
