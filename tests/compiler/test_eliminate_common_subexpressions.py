"""eliminate_common_subexpressions: equal nodes merge, transitively; effects never do."""

import numpy as np

import graphnet as gn
from graphnet.compiler import PassContext, extract, verify
from graphnet.compiler.passes.eliminate_common_subexpressions import (
    eliminate_common_subexpressions,
)
from graphnet.compiler.testing import assert_same_results, check_pass

CSE = "eliminate_common_subexpressions"


def test_equal_nodes_and_equal_constants_merge_in_one_pass():
    before = """
        %x = placeholder() {dtype="float64", shape=[2]} : f64[2]
        %c1 = const() {value=float64[][2.]} : f64[]
        %c2 = const() {value=float64[][2.]} : f64[]
        %zero = const() {value=float64[2][0.,0.]} : f64[2]
        %minus_zero = const() {value=float64[2][-0.,0.]} : f64[2]
        %a = multiply(%x, %c1) : f64[2]
        %b = multiply(%x, %c2) : f64[2]
        %ea = exp(%a) : f64[2]
        %eb = exp(%b) : f64[2]
        %sum = add_n(%ea, %eb, %zero, %minus_zero) : f64[2]
        %s1 = reduce_sum(%sum) {axis=[0], keepdims=false} : f64[]
        %s2 = reduce_sum(%sum) {axis=[0], keepdims=true} : f64[1]
        %fetch = fetch(%s1) {index=0}
        %fetch_1 = fetch(%s2) {index=1}
    """
    # 0.0 and -0.0 differ in their bytes; so do reductions with different attrs
    expected = """
        %x = placeholder() {dtype="float64", shape=[2]} : f64[2]
        %c1 = const() {value=float64[][2.]} : f64[]
        %zero = const() {value=float64[2][0.,0.]} : f64[2]
        %minus_zero = const() {value=float64[2][-0.,0.]} : f64[2]
        %a = multiply(%x, %c1) : f64[2]
        %ea = exp(%a) : f64[2]
        %sum = add_n(%ea, %ea, %zero, %minus_zero) : f64[2]
        %s1 = reduce_sum(%sum) {axis=[0], keepdims=false} : f64[]
        %s2 = reduce_sum(%sum) {axis=[0], keepdims=true} : f64[1]
        %fetch = fetch(%s1) {index=0}
        %fetch_1 = fetch(%s2) {index=1}
    """
    assert check_pass(CSE, before, expected) == {"merged": 3}


def test_random_stateful_controlled_and_assigned_reads_stay_apart():
    text = """
        %dims = const() {value=int32[1][2]} : i32[1]
        %r1 = random_uniform(%dims) {dtype="float64", seed=1, seed2=2} : f64[2]
        %r2 = random_uniform(%dims) {dtype="float64", seed=1, seed2=2} : f64[2]
        %x = placeholder() {dtype="float64", shape=[2]} : f64[2]
        %v = variable() {dtype="float64", shape=[2]} : f64[2]
        %before = identity(%v) : f64[2]
        %inc = assign_add(%v, %x) ^[%before] {validate_shape=true} : f64[2]
        %after = identity(%v) ^[%inc] : f64[2]
        %late = identity(%v) : f64[2]
        %n1 = negative(%x) : f64[2]
        %n2 = negative(%x) ^[%inc] : f64[2]
        %out = add_n(%r1, %r2, %before, %after, %late, %n1, %n2) : f64[2]
        %fetch = fetch(%out) {index=0}
    """
    assert check_pass(CSE, text, text) == {}


def test_multi_output_nodes_merge_output_by_output():
    before = """
        %x = placeholder() {dtype="float64", shape=[4]} : f64[4]
        %s, %s:1 = split(%x) {axis=0, num_split=2, size_splits=none} : f64[2], f64[2]
        %t, %t:1 = split(%x) {axis=0, num_split=2, size_splits=none} : f64[2], f64[2]
        %y = subtract(%s:1, %t) : f64[2]
        %z = subtract(%t:1, %s) : f64[2]
        %fetch = fetch(%y) {index=0}
        %fetch_1 = fetch(%z) {index=1}
    """
    expected = """
        %x = placeholder() {dtype="float64", shape=[4]} : f64[4]
        %s, %s:1 = split(%x) {axis=0, num_split=2, size_splits=none} : f64[2], f64[2]
        %y = subtract(%s:1, %s) : f64[2]
        %fetch = fetch(%y) {index=0}
        %fetch_1 = fetch(%y) {index=1}
    """
    assert check_pass(CSE, before, expected) == {"merged": 2}


def test_gradient_graphs_share_their_repeated_subexpressions():
    x = gn.placeholder(gn.float64, [3, 2], name="x")
    y = gn.reduce_sum(gn.tanh(x) * gn.tanh(x)) + gn.reduce_sum(gn.exp(x) / gn.exp(x))
    program = extract(x.graph, [y, *gn.gradients(y, [x])], {x: (3, 2)})
    merged = eliminate_common_subexpressions(program, PassContext())
    verify(merged)
    assert len(merged.nodes) < len(program.nodes)
    assert_same_results(program, merged, {"x": np.linspace(-1, 1, 6).reshape(3, 2)})
