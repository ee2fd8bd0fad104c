"""The networkx view, DOT text and drawing of graphs and plans."""

import shutil

import pytest

import graphnet as gn
from graphnet import inspect as gi


def _tiny_graph() -> gn.Graph:
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, [None, 2], name="x")
        with gn.name_scope("layer"):
            y = gn.multiply(x, 2.0, name="scale")
        with gn.control_dependencies([y]):
            gn.identity(x, name="out")
    return graph


def test_networkx_view_of_a_graph():
    view = gi.to_networkx(_tiny_graph())
    assert sorted(view.nodes) == ["layer/Const", "layer/scale", "out", "x"]
    assert view.number_of_edges() == 4
    assert view.nodes["layer/scale"] == {
        "op": "multiply", "attrs": {}, "dtypes": ["float32"], "shapes": [(None, 2)],
    }  # fmt: skip
    assert view.nodes["x"]["attrs"] == {"dtype": "float32", "shape": (None, 2)}
    data = view.get_edge_data("layer/Const", "layer/scale")
    assert list(data.values()) == [
        {"tensor": "layer/Const:0", "index": 0, "position": 1, "control": False}
    ]
    assert list(view.get_edge_data("layer/scale", "out").values()) == [{"control": True}]


def test_networkx_view_keeps_parallel_edges_and_output_indices():
    x = gn.placeholder(gn.float32, [4], name="x")
    a, b = gn.split(x, 2, name="halves")
    gn.add(a, b, name="sum")
    gn.multiply(x, x, name="square")
    view = gi.to_networkx(x.graph)
    halves = sorted(e["index"] for e in view.get_edge_data("halves", "sum").values())
    assert halves == [0, 1]
    positions = sorted(e["position"] for e in view.get_edge_data("x", "square").values())
    assert positions == [0, 1]


def test_networkx_view_of_a_plan_is_its_program():
    graph = _tiny_graph()
    x, out = graph.get_tensor_by_name("x:0"), graph.get_tensor_by_name("out:0")
    plan = gn.compiler.compile(graph, [out], {x: (3, 2)})
    view = gi.to_networkx(plan)
    assert view.nodes["x"]["op"] == "placeholder"
    assert view.nodes["x"]["attrs"]["feed"] == "x:0"
    assert view.nodes["out"]["shapes"] == [(3, 2)]  # refined from the feed
    assert view.nodes["fetch"] == {
        "op": "fetch", "attrs": {"index": 0}, "dtypes": [], "shapes": [],
    }  # fmt: skip
    assert {"tensor": "out:0", "index": 0, "position": 0, "control": False} in list(
        view.get_edge_data("out", "fetch").values()
    )


GOLDEN_DOT = r"""digraph graphnet {
  graph [rankdir=TB, fontname="Helvetica", fontsize=10, labeljust=l];
  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];
  edge [color="#555555", arrowsize=0.6];
  n0 [label="x\nplaceholder f32[?,2]", tooltip="x", shape=invhouse, fillcolor="#dae8fc"];
  n3 [label="out\nidentity f32[?,2]", tooltip="out"];
  subgraph cluster_0 {
    label="layer"; style="rounded";
    n1 [label="Const\nconst f32[]", tooltip="layer/Const", shape=box, style=filled, fillcolor="#eeeeee", fontsize=8];
    n2 [label="scale\nmultiply f32[?,2]", tooltip="layer/scale"];
  }
  n0 -> n2 [tooltip="x:0"];
  n1 -> n2 [tooltip="layer/Const:0"];
  n0 -> n3 [tooltip="x:0"];
  n2 -> n3 [style=dashed, color="#999999"];
}
"""  # noqa: E501


def test_dot_golden():
    assert gi.to_dot(_tiny_graph()) == GOLDEN_DOT


def _odd_names_graph() -> gn.Graph:
    """Names with quotes, backslashes and nested scopes (a trailing '/' takes a name as is)."""
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, [2], name="x")
        odd = graph.create_node("negative", [x], {}, [(gn.float32, (2,))], name='a/say "hi"/')
        graph.create_node("negative", [odd.outputs[0]], {}, [(gn.float32, (2,))],
                          name="a/b/back\\slash\\/")  # fmt: skip
    return graph


def test_dot_escapes_names_and_nests_scopes():
    text = gi.to_dot(_odd_names_graph())
    assert r'n1 [label="say \"hi\"\nnegative f32[2]", tooltip="a/say \"hi\""];' in text
    assert r'n2 [label="back\\slash\\\nnegative f32[2]", tooltip="a/b/back\\slash\\"];' in text
    assert r'n1 -> n2 [tooltip="a/say \"hi\":0"];' in text
    lines = text.splitlines()
    assert lines.index("  subgraph cluster_0 {") < lines.index("    subgraph cluster_1 {")
    assert '    label="a"; style="rounded";' in lines
    assert '      label="b"; style="rounded";' in lines


def test_dot_of_a_plan_styles_feeds_variables_and_fetches():
    x = gn.placeholder(gn.float32, [None, 2], name="x")
    w = gn.Variable([[1.0], [2.0]], name="w")
    y = gn.matmul(x, w, name="y")
    text = gi.to_dot(gn.compiler.compile(x.graph, [y], {x: (5, 2)}))
    assert 'n0 [label="x\\nplaceholder f32[5,2]", tooltip="x", shape=invhouse' in text
    assert 'n1 [label="w\\nvariable f32[2,1]", tooltip="w", shape=cylinder' in text
    assert 'label="y\\nmatmul f32[5,1]"' in text
    assert 'label="fetch\\nfetch", tooltip="fetch", shape=doubleoctagon' in text


def test_dot_max_nodes_cuts_and_says_so():
    text = gi.to_dot(_tiny_graph(), max_nodes=2)
    assert "n2 [" not in text and "n3 [" not in text and "-> n2" not in text
    assert 'more [label="2 more nodes not drawn (max_nodes=2)"' in text
    assert gi.to_dot(_tiny_graph(), max_nodes=None) == GOLDEN_DOT
    with pytest.raises(ValueError, match="max_nodes"):
        gi.to_dot(_tiny_graph(), max_nodes=0)


def test_draw_dot_needs_no_program(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = gi.draw(_tiny_graph(), tmp_path / "g.dot")
    assert path.read_text() == GOLDEN_DOT


def test_draw_svg_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(gi.GraphvizError, match=r"`dot` program.*apt-get install graphviz"):
        gi.draw(_tiny_graph(), tmp_path / "g.svg")
    assert isinstance(gi.GraphvizError("x"), gn.GraphnetError)
    assert not (tmp_path / "g.svg").exists()


def test_draw_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match=r"\.dot, \.gv, \.svg, \.png, \.pdf"):
        gi.draw(_tiny_graph(), tmp_path / "g.txt")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not installed")
def test_draw_svg_with_graphviz(tmp_path):
    path = gi.draw(_odd_names_graph(), tmp_path / "g.svg")
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert "say &quot;hi&quot;" in svg and "back\\slash\\" in svg
