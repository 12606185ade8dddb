"""Choosing gating sites on an OpGraph and the DAG between them."""

from __future__ import annotations

from dataclasses import dataclass

from pathlens.model._graph import OpGraph, OpNode


@dataclass(frozen=True)
class Site:
    """A module whose output channels (dim 1) can be kept or removed.

    name: qualified name in ``model.named_modules()``; channels: size of dim 1 of its output;
    kind: why it was chosen (``conv`` activation after a convolution, ``linear`` hidden linear
    layer, ``branch`` the last module of a residual branch, before the addition, ``block`` a
    residual block's output when its branch is unclear, ``concat`` concatenating block,
    ``module`` chosen by hand); segment: the enclosing modules, outermost first, the site
    itself for a block (``("stem",)`` or ``("head",)`` at the top level); shape: output shape
    of one example, without the batch dimension.
    """

    name: str
    channels: int
    kind: str
    segment: tuple[str, ...]
    shape: tuple[int, ...]
    index: int


def _walk_back_to_producer(graph: OpGraph, node: OpNode) -> tuple[OpNode, list[OpNode]]:
    """Follow single-input channel-preserving ops back to the op that made the values.

    Returns the producer and the modules passed on the way (nearest first).
    """
    passed: list[OpNode] = []
    current = node
    while current.inputs:
        previous = graph.nodes[current.inputs[0]]
        if previous.category == "pass" or (previous.category == "act" and previous is not node):
            if previous.op == "module":
                passed.append(previous)
            current = previous
            continue
        return previous, passed
    return current, passed


def producing_module(graph: OpGraph, node: OpNode) -> str | None:
    """The convolution or linear module whose values reach `node` through single-input
    channel-preserving ops only (norms, activations, dropout), or None when a join, a function
    or the model input makes them."""
    producer = node
    if node.category not in ("conv", "linear"):
        producer, _ = _walk_back_to_producer(graph, node)
    if producer.op == "module" and producer.category in ("conv", "linear"):
        return producer.name
    return None


_SHAPE = {"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose"}


def _output_nodes(graph: OpGraph) -> set[int]:
    """The nodes whose values are the model's output, up to reshaping."""
    result: set[int] = set()
    stack = list(graph.outputs)
    while stack:
        node = graph.nodes[stack.pop()]
        if node.index in result:
            continue
        result.add(node.index)
        if node.inputs and (node.category == "pass" or node.name in _SHAPE):
            stack.append(node.inputs[0])
    return result


def auto_sites(graph: OpGraph, call_counts: dict[str, int]) -> dict[str, str]:
    """Site name -> kind, chosen from the graph. Modules called more than once are avoided."""
    once = {name for name, count in call_counts.items() if count == 1}
    output_nodes = _output_nodes(graph)
    chosen: dict[str, str] = {}

    def take(name: str, kind: str) -> None:
        node_index = graph.module_outputs.get(name)
        if name in once and node_index not in output_nodes and name not in chosen:
            chosen[name] = kind

    consumed_by_act: set[int] = set()
    for node in graph.nodes:
        if node.category != "act":
            continue
        producer, passed = _walk_back_to_producer(graph, node)
        consumed_by_act.add(producer.index)
        if producer.category not in ("conv", "linear"):
            if producer.category in ("add", "cat") and not producer.scope and node.op == "module":
                take(node.name, "block" if producer.category == "add" else "concat")
            continue
        # The site is the activation module; when the activation is a function, or a module
        # shared by several calls, the nearest module before it (norm or conv) stands in: with
        # zero ablation act(0) = 0 for every activation pathlens gates after.
        candidates = ([node] if node.op == "module" else []) + passed + [producer]
        for candidate in candidates:
            if candidate.name in once:
                take(candidate.name, producer.category)
                break

    for node in graph.nodes:
        if node.category == "linear" and node.index not in consumed_by_act:
            take(node.name, "linear")
        if node.category == "cat" and node.scope and len(node.inputs) >= 2:
            take(node.scope[-1], "concat")
        if node.category == "add" and node.scope and len(node.inputs) >= 2:
            branch = _residual_branch(graph, node)
            if branch is not None and branch.name in once:
                take(branch.name, "branch")
            else:
                take(node.scope[-1], "block")
    return chosen


def _residual_branch(graph: OpGraph, add: OpNode) -> OpNode | None:
    """The module ending the residual branch of an addition, or None if there is no clear one.

    The branch is the input with more convolutions behind it inside the block; the skip
    connection has none (identity) or one (a projection). Gating the branch rather than the
    sum keeps the residual stream intact: zeroing the sum cuts it, and the network then
    predicts one class for every input.
    """
    block = add.scope[-1]
    counts = []
    for start in add.inputs:
        seen, stack, convs = set(), [start], 0
        while stack:
            node = graph.nodes[stack.pop()]
            if node.index in seen or block not in node.scope:
                continue
            seen.add(node.index)
            convs += node.category in ("conv", "linear")
            stack.extend(node.inputs)
        counts.append(convs)
    best = max(range(len(counts)), key=counts.__getitem__)
    if sorted(counts)[-1] == sorted(counts)[-2]:
        return None
    node = graph.nodes[add.inputs[best]]
    return node if node.op == "module" else None


def site_edges(graph: OpGraph, site_names: list[str]) -> list[tuple[str, str]]:
    """(a, b) for every pair of sites where a's output reaches b with no other site between.

    Works through residual additions and concatenations, since it follows every input.
    """
    at_node: dict[int, list[str]] = {}
    for name in site_names:  # in forward order: an inner module before the block it ends
        at_node.setdefault(graph.module_outputs[name], []).append(name)
    edges: list[tuple[str, str]] = []
    for name in site_names:
        start = graph.module_outputs[name]
        same = at_node[start]
        position = same.index(name)
        if position > 0:  # another site produces the same tensor just before this one
            edges.append((same[position - 1], name))
            continue
        seen: set[int] = set()
        stack = list(graph.nodes[start].inputs)
        found: list[str] = []
        while stack:
            index = stack.pop()
            if index in seen:
                continue
            seen.add(index)
            if index in at_node:
                found.append(at_node[index][-1])
                continue
            stack.extend(graph.nodes[index].inputs)
        order = {n: i for i, n in enumerate(site_names)}
        edges.extend((src, name) for src in sorted(set(found), key=order.__getitem__))
    return edges


def segment_of(name: str, is_container: bool) -> tuple[str, ...]:
    """Enclosing modules of a site, outermost first, the site itself when it is a block.

    A block's output belongs to the block, so collapsing the block hides the sites inside it
    and its output together. Top-level layers get an empty segment (see `name_top_level`).
    """
    parts = name.split(".")
    depth = len(parts) if is_container else len(parts) - 1
    return tuple(".".join(parts[: i + 1]) for i in range(depth))


def name_top_level(segments: list[tuple[str, ...]], model_name: str) -> list[tuple[str, ...]]:
    """Give top-level layers a segment: 'stem' before the first block, 'head' after it."""
    first = next((i for i, s in enumerate(segments) if s), None)
    if first is None:
        return [(model_name,)] * len(segments)
    return [s or (("stem",) if i < first else ("head",)) for i, s in enumerate(segments)]
