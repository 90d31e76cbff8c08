"""summary(): rows, output shapes, parameter counts, FLOPs, totals, and no side effects."""
import numpy as np
import pytest

import minicnn
import minicnn.functional as F
import minicnn.nn as nn
from minicnn.nn import summary


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def test_lenet_rows_and_totals():
    s = summary(lenet(), (32, 32, 1), print_fn=None)
    assert [r.type for r in s.rows] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU",
                                        "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear",
                                        "ReLU", "Linear"]
    assert [r.output_shape for r in s.rows] == [
        (1, 28, 28, 6), (1, 28, 28, 6), (1, 14, 14, 6), (1, 10, 10, 16), (1, 10, 10, 16),
        (1, 5, 5, 16), (1, 400), (1, 120), (1, 120), (1, 84), (1, 84), (1, 10)]
    assert [r.trainable for r in s.rows] == [156, 0, 0, 2416, 0, 0, 0, 48120, 0, 10164, 0, 850]
    assert s.total_params == s.trainable_params == 61706 and s.non_trainable_params == 0
    conv1 = 2 * 28 * 28 * 6 * (5 * 5 * 1)          # 2·n_H·n_W·n_C·f_H·f_W·n_C_prev
    conv2 = 2 * 10 * 10 * 16 * (5 * 5 * 6)
    assert s.rows[0].flops == conv1 and s.rows[3].flops == conv2
    assert s.rows[7].flops == 2 * 400 * 120
    assert s.rows[2].flops == 14 * 14 * 6 * 4 and s.rows[1].flops == 28 * 28 * 6
    assert s.rows[6].flops == 0
    assert s.total_flops == sum(r.flops for r in s.rows)
    assert s.rows[0].name == "0" and s.rows[0].input_shape == (1, 32, 32, 1)


def test_table_text_prints_once_and_repr_is_short():
    lines = []
    s = summary(lenet(), (32, 32, 1), batch_size=2, print_fn=lines.append)
    assert len(lines) == 1 and lines[0] == str(s)
    text = str(s)
    assert "Layer (type)" in text and "Trainable" in text and "FLOPs" in text
    assert "0 (Conv2d)" in text and "(m, 28, 28, 6)" in text
    assert "Total params: 61,706 (trainable 61,706, non-trainable 0)" in text
    assert f"{s.total_flops:,}" in text and "multiply-add counts as 2" in text
    assert "Input: (m, 32, 32, 1), m = 2" in text
    assert s.rows[0].output_shape == (2, 28, 28, 6)
    assert repr(s).startswith("<Summary: 12 rows, 61,706 parameters")


def test_non_trainable_counts_frozen_parameters_and_buffers_and_state_is_untouched():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    model[3].freeze()
    model[2].eval()                                 # a mixed state must come back as it was
    modes = [m.training for m in model.modules()]
    assert modes[:4] == [True, True, True, False]
    rm = model[1].running_mean.numpy().copy()
    rng_state = minicnn.backend.get_rng().bit_generator.state
    s = summary(model, (4,), print_fn=None)
    assert [(r.trainable, r.non_trainable) for r in s.rows] == [(40, 0), (16, 16), (0, 0),
                                                                (0, 18)]
    assert (s.trainable_params, s.non_trainable_params) == (56, 34)
    assert [m.training for m in model.modules()] == modes
    np.testing.assert_array_equal(model[1].running_mean.numpy(), rm)
    assert minicnn.backend.get_rng().bit_generator.state == rng_state
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


class Residual(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n, n), nn.ReLU(), nn.Linear(n, n))

    def forward(self, x):
        return F.relu(self.body(x) + x)


def test_depth_collapses_blocks_into_one_row():
    model = nn.Sequential(nn.Linear(3, 5), Residual(5), Residual(5), nn.Linear(5, 1))
    leaves = summary(model, (3,), print_fn=None)
    assert len(leaves.rows) == 8
    top = summary(model, (3,), depth=1, print_fn=None)
    assert [r.type for r in top.rows] == ["Linear", "Residual", "Residual", "Linear"]
    assert [r.name for r in top.rows] == ["0", "1", "2", "3"]
    assert top.rows[1].trainable == 2 * (25 + 5)
    assert top.rows[1].flops == 2 * 2 * 5 * 5 + 5
    assert top.total_flops == leaves.total_flops
    two = summary(model, (3,), depth=2, print_fn=None)
    assert [r.name for r in two.rows] == ["0", "1.body", "2.body", "3"]


def test_unknown_flops_and_extra_note_columns():
    class Custom(nn.Module):                    # a leaf with no flops() method
        def forward(self, x):
            return x * 2

    class Noted(nn.Identity):
        def summary_notes(self, x_shape, y_shape):
            return {"cost ratio": "0.13"}

    model = nn.Sequential(nn.Linear(2, 3), Custom(), Noted())
    s = summary(model, (2,), print_fn=None)
    assert s.rows[1].flops is None and s.flops_unknown == ["1"]
    assert s.total_flops == 12
    assert s.rows[2].notes == {"cost ratio": "0.13"}
    text = str(s)
    assert "cost ratio" in text.splitlines()[0] and "0.13" in text
    assert "FLOPs unknown" in text and "?" in text


def test_a_block_with_notes_gets_a_header_row_in_the_leaf_view():
    class Separable(nn.Module):
        def __init__(self):
            super().__init__()
            self.depthwise, self.pointwise = nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

        def summary_notes(self, x_shape, y_shape):
            return {"cost vs conv": "1/2 + 1/9"}

    s = summary(nn.Sequential(nn.Linear(3, 4), Separable()), (3,), print_fn=None)
    assert [(r.name, r.is_leaf) for r in s.rows] == [("0", True), ("1", False),
                                                     ("1.depthwise", True), ("1.pointwise", True)]
    assert s.rows[1].notes == {"cost vs conv": "1/2 + 1/9"} and s.rows[1].trainable == 30
    header = next(line for line in str(s).splitlines() if line.startswith("1 (Separable)"))
    assert "1/2 + 1/9" in header and "30" not in header        # counts are on its layers
    assert sum(r.trainable for r in s.rows if r.is_leaf) == s.trainable_params == 46


def test_a_layer_used_twice_costs_twice_but_counts_its_parameters_once():
    lin = nn.Linear(4, 4)
    s = summary(nn.Sequential(lin, nn.ReLU(), lin), (4,), print_fn=None)
    assert [r.trainable for r in s.rows] == [20, 0, 0]
    assert s.rows[2].notes == {"shared": "yes"}
    assert s.total_params == 20
    assert s.total_flops == 2 * 32 + 4


def test_several_inputs():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    s = summary(Pair(), [(3,), (5,)], print_fn=None)
    assert [r.output_shape for r in s.rows] == [(1, 2), (1, 2)]
    assert "Input: [(m, 3), (m, 5)]" in str(s)


def test_input_shape_with_a_batch_axis_gets_a_hint():
    with pytest.raises(ValueError, match="without the batch axis"):
        summary(lenet(), (1, 32, 32, 1), print_fn=None)
    with pytest.raises(ValueError, match="input_shape must be one example's shape"):
        summary(lenet(), (32, 32, -1), print_fn=None)
    with pytest.raises(TypeError, match="must be a minicnn.nn.Module"):
        summary(lambda x: x, (3,))


def test_summary_on_device(device):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding="same"), nn.BatchNorm2d(4),
                          nn.GlobalAvgPool2d(), nn.Linear(4, 2)).to(device)
    s = summary(model, (8, 8, 3), print_fn=None)
    assert [r.output_shape for r in s.rows] == [(1, 8, 8, 4), (1, 8, 8, 4), (1, 4), (1, 2)]
    assert s.rows[0].flops == 2 * 8 * 8 * 4 * 27
