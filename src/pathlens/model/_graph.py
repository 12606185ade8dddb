"""A model's forward as a graph of operations, from torch.fx or from a recorded execution.

Both builders produce the same `OpGraph`, so site selection and edges are computed once, the
same way, whichever builder ran. fx sees the code, the recorder sees one execution; the recorder
is the fallback for models fx cannot trace (data-dependent control flow, unsupported calls).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

# Function categories. Names are normalised: "__iadd__", "add_", "add" -> "add".
_ADD = {"add", "iadd", "radd"}
_CAT = {"cat", "concat", "concatenate"}
_ACT = {
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "celu",
    "hardswish", "hardsigmoid", "hardtanh", "mish", "softplus", "prelu", "rrelu", "glu",
}  # fmt: skip
# Channel-preserving elementwise operations a walk may pass through to find a producer.
_PASS = {"batch_norm", "dropout", "dropout2d", "contiguous", "clone", "identity"}

ACT_MODULES = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.ELU, nn.SELU,
    nn.CELU, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Mish, nn.Softplus, nn.PReLU, nn.RReLU,
)  # fmt: skip
PASS_MODULES = (
    nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm,
    nn.modules.instancenorm._InstanceNorm, nn.modules.dropout._DropoutNd, nn.Identity,
)  # fmt: skip
CONV_MODULES = (nn.modules.conv._ConvNd,)


def _normalise(name: str) -> str:
    name = name.strip("_")
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return name


def _function_name(target) -> str:
    if isinstance(target, str):
        return _normalise(target)
    if target is operator.add or target is operator.iadd:
        return "add"
    return _normalise(getattr(target, "__name__", str(target)))


@dataclass
class OpNode:
    """One operation: a call of a leaf module, a function, or the input/output."""

    index: int
    op: str  # "input" | "module" | "function" | "output"
    name: str  # module qualified name for "module", normalised function name for "function"
    scope: tuple[str, ...] = ()  # qualified names of the enclosing modules, outermost first
    inputs: list[int] = field(default_factory=list)
    module_type: type | None = None

    @property
    def category(self) -> str:
        """'conv', 'linear', 'act', 'pass', 'add', 'cat' or 'other'."""
        if self.op == "module":
            t = self.module_type
            if t is None:
                return "other"
            if issubclass(t, CONV_MODULES):
                return "conv"
            if issubclass(t, nn.Linear):
                return "linear"
            if issubclass(t, ACT_MODULES):
                return "act"
            if issubclass(t, PASS_MODULES):
                return "pass"
            return "other"
        if self.op == "function":
            if self.name in _ADD:
                return "add"
            if self.name in _CAT:
                return "cat"
            if self.name in _ACT:
                return "act"
            if self.name in _PASS:
                return "pass"
        return "other"


@dataclass
class OpGraph:
    nodes: list[OpNode]
    module_outputs: dict[str, int]  # module qualified name -> node producing its output
    outputs: list[int]  # nodes returned by the model
    source: str  # "fx" or "hooks"


def _is_leaf(module: nn.Module) -> bool:
    return next(iter(module.children()), None) is None


class _LeafTracer(fx.Tracer):
    """fx tracer that keeps every childless module as one call, as the recorder does."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return _is_leaf(m)


def graph_from_fx(model: nn.Module) -> OpGraph:
    """Trace `model` with torch.fx. Raises whatever fx raises when the model does not trace."""
    graph = _LeafTracer().trace(model)
    modules = dict(model.named_modules())
    nodes: list[OpNode] = []
    by_fx: dict[fx.Node, int] = {}
    outputs: list[int] = []
    for fx_node in graph.nodes:
        stack = tuple(fx_node.meta.get("nn_module_stack", {}).keys())
        inputs = [by_fx[a] for a in _fx_args(fx_node) if a in by_fx]
        if fx_node.op == "placeholder":
            node = OpNode(len(nodes), "input", fx_node.name)
        elif fx_node.op == "call_module":
            node = OpNode(
                len(nodes),
                "module",
                fx_node.target,
                stack[:-1] if stack and stack[-1] == fx_node.target else stack,
                inputs,
                type(modules[fx_node.target]),
            )
        elif fx_node.op in ("call_function", "call_method"):
            node = OpNode(len(nodes), "function", _function_name(fx_node.target), stack, inputs)
        elif fx_node.op == "output":
            outputs = inputs
            continue
        else:  # get_attr: parameters and buffers used directly, not activations
            continue
        by_fx[fx_node] = node.index
        nodes.append(node)
    return OpGraph(nodes, _module_outputs_from_scopes(nodes, outputs), outputs, "fx")


def _fx_args(node: fx.Node) -> list[fx.Node]:
    flat, _ = tree_flatten((node.args, node.kwargs))
    return [a for a in flat if isinstance(a, fx.Node)]


def _module_outputs_from_scopes(nodes: list[OpNode], outputs: list[int]) -> dict[str, int]:
    """For each module, the node whose value leaves the module (used outside its scope)."""
    result: dict[str, int] = {}
    for node in nodes:
        if node.op == "module":
            result[node.name] = node.index  # a leaf: its call node (the last call, if several)
    users: dict[int, list[OpNode]] = {}
    for node in nodes:
        for i in node.inputs:
            users.setdefault(i, []).append(node)

    def inside(node: OpNode, module: str) -> bool:
        return module in node.scope or (node.op == "module" and node.name == module)

    for node in nodes:
        for module in node.scope:
            leaves = [u for u in users.get(node.index, []) if not inside(u, module)]
            if leaves or node.index in outputs:
                result[module] = node.index
    return result


class _Recorder(TorchFunctionMode):
    """Records the operations of one eager forward, with the module scope of each."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.nodes: list[OpNode] = []
        self.producer: dict[int, int] = {}  # id(tensor) -> node index
        self.alive: list[torch.Tensor] = []  # keeps ids unique while recording
        self.scope: list[str] = []
        self.leaf_depth = 0
        self.module_outputs: dict[str, int] = {}
        self.call_counts: dict[str, int] = {}
        self.output_shapes: dict[str, tuple[int, ...] | None] = {}
        self.names = {m: n for n, m in model.named_modules()}
        self.handles = []
        for module in model.modules():
            self.handles.append(module.register_forward_pre_hook(self._pre))
            self.handles.append(module.register_forward_hook(self._post))

    def _inputs(self, values) -> list[int]:
        flat, _ = tree_flatten(values)
        return [
            self.producer[id(t)]
            for t in flat
            if isinstance(t, torch.Tensor) and id(t) in self.producer
        ]

    def _produce(self, node: OpNode, values) -> None:
        flat, _ = tree_flatten(values)
        tensors = [t for t in flat if isinstance(t, torch.Tensor)]
        if not tensors:
            return
        self.nodes.append(node)
        for t in tensors:
            self.producer[id(t)] = node.index
            self.alive.append(t)

    def add_input(self, x) -> None:
        self._produce(OpNode(len(self.nodes), "input", "x"), x)

    def _pre(self, module, args):
        name = self.names[module]
        self.call_counts[name] = self.call_counts.get(name, 0) + 1
        if self.leaf_depth == 0 and name and _is_leaf(module):
            self.leaf_depth += 1
            self._pending = (name, self._inputs(args), tuple(self.scope))
        elif self.leaf_depth > 0:
            self.leaf_depth += 1
        elif name:
            self.scope.append(name)

    def _post(self, module, args, output):
        name = self.names[module]
        self.output_shapes[name] = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        if self.leaf_depth > 0:
            self.leaf_depth -= 1
            if self.leaf_depth == 0:
                mname, inputs, scope = self._pending
                self._produce(
                    OpNode(len(self.nodes), "module", mname, scope, inputs, type(module)), output
                )
                self.module_outputs[mname] = self.producer.get(id(output), -1)
            return
        if name:
            self.scope.pop()
        flat, _ = tree_flatten(output)
        tensors = [t for t in flat if isinstance(t, torch.Tensor) and id(t) in self.producer]
        if tensors:
            self.module_outputs[name] = self.producer[id(tensors[0])]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.leaf_depth == 0:
            name = _function_name(func)
            if name not in ("get", "set", "size", "dim", "shape"):
                inputs = self._inputs((args, kwargs))
                self._produce(
                    OpNode(len(self.nodes), "function", name, tuple(self.scope), inputs), out
                )
        return out

    def close(self) -> None:
        for h in self.handles:
            h.remove()


@dataclass
class Recording:
    graph: OpGraph
    output: object
    call_counts: dict[str, int]  # module name -> calls in one forward
    output_shapes: dict[str, tuple[int, ...] | None]  # None when the output is not a tensor


def record_graph(model: nn.Module, example_input) -> Recording:
    """Run one forward of `model` on `example_input`, recording its operations."""
    recorder = _Recorder(model)
    try:
        recorder.add_input(example_input)
        with recorder:
            output = (
                model(*example_input) if isinstance(example_input, tuple) else model(example_input)
            )
    finally:
        recorder.close()
    outputs = recorder._inputs(output)
    graph = OpGraph(recorder.nodes, recorder.module_outputs, outputs, "hooks")
    return Recording(graph, output, recorder.call_counts, recorder.output_shapes)
