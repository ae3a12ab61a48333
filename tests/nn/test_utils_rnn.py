"""nn.utils.rnn (padding, packing) and the recurrent layers on PackedSequence, against torch==2.13 and central
differences."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError
from chainrule.nn.utils import rnn

LENGTHS = [3, 5, 1, 5, 2]


def ragged(dtype=np.float64, features=(2,), lengths=LENGTHS, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, *features)).astype(dtype) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_equals_torch_values_and_gradients(torch, batch_first, padding_side):
    seqs = ragged()
    ours = [cr.tensor(s, requires_grad=True) for s in seqs]
    theirs = [torch.tensor(s, requires_grad=True) for s in seqs]
    out = rnn.pad_sequence(ours, batch_first=batch_first, padding_value=-7.5, padding_side=padding_side)
    ref = torch.nn.utils.rnn.pad_sequence(theirs, batch_first=batch_first, padding_value=-7.5,
                                          padding_side=padding_side)
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    weights = np.random.default_rng(1).standard_normal(ref.shape)
    (out * cr.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_and_pad_packed_equal_torch(torch, batch_first, enforce_sorted):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else [3, 5, 1, 4, 2]
    seqs = ragged(lengths=lengths)
    padded = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=batch_first)
    x = cr.tensor(padded.numpy(), requires_grad=True)
    xt = padded.clone().requires_grad_(True)
    packed = rnn.pack_padded_sequence(x, cr.tensor(np.array(lengths)), batch_first=batch_first,
                                      enforce_sorted=enforce_sorted)
    ref = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first,
                                                  enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(packed.data.numpy(), ref.data.detach().numpy())
    assert packed.batch_sizes.tolist() == ref.batch_sizes.tolist() and packed.batch_sizes.dtype == np.int64
    for ours, theirs in ((packed.sorted_indices, ref.sorted_indices), (packed.unsorted_indices,
                                                                        ref.unsorted_indices)):
        assert (ours is None and theirs is None) or ours.tolist() == theirs.tolist()
    out, out_lengths = rnn.pad_packed_sequence(packed, batch_first=batch_first, padding_value=3.0, total_length=7)
    ref_out, ref_lengths = torch.nn.utils.rnn.pad_packed_sequence(ref, batch_first=batch_first, padding_value=3.0,
                                                                  total_length=7)
    np.testing.assert_array_equal(out.numpy(), ref_out.detach().numpy())
    assert out_lengths.tolist() == ref_lengths.tolist() == lengths
    weights = np.random.default_rng(2).standard_normal(ref_out.shape)
    (out * cr.tensor(weights)).sum().backward()
    (ref_out * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_pack_sequence_unpack_and_unpad_round_trip(torch):
    seqs = ragged(features=(2, 3))
    packed = rnn.pack_sequence([cr.tensor(s) for s in seqs], enforce_sorted=False)
    ref = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), ref.data.numpy())
    for got, want in zip(rnn.unpack_sequence(packed), seqs, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)
    padded = rnn.pad_sequence([cr.tensor(s) for s in seqs], batch_first=True)
    for got, want in zip(rnn.unpad_sequence(padded, cr.tensor(np.array(LENGTHS)), batch_first=True), seqs,
                         strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def test_packing_errors_say_what_was_wrong(torch):
    x = cr.zeros(5, 3, 2)
    with pytest.raises(ValueError, match="sorted in decreasing order when `enforce_sorted` is True"):
        rnn.pack_padded_sequence(x, [2, 5, 1])
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        torch.nn.utils.rnn.pack_padded_sequence(torch.zeros(5, 3, 2), [2, 5, 1])
    with pytest.raises(ValueError, match="every length must be > 0"):
        rnn.pack_padded_sequence(x, [5, 2, 0])
    with pytest.raises(ShapeError, match="lengths has 2 entries but the batch has 3"):
        rnn.pack_padded_sequence(x, [5, 2])
    with pytest.raises(ValueError, match="larger than the padded sequence"):
        rnn.pack_padded_sequence(x, [6, 2, 1])
    with pytest.raises(TypeError, match="lengths must be a 1-D list or int64"):
        rnn.pack_padded_sequence(x, [5.0, 2.0, 1.0])
    packed = rnn.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="total_length=4 and max sequence length being 5"):
        rnn.pad_packed_sequence(packed, total_length=4)
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right'"):
        rnn.pad_sequence([cr.zeros(2)], padding_side="up")
    with pytest.raises(ShapeError, match="sequence 1 has shape"):
        rnn.pad_sequence([cr.zeros(2, 3), cr.zeros(2, 4)])
    with pytest.raises(TypeError, match="expected a PackedSequence"):
        rnn.pad_packed_sequence(x)


CASES = [("RNN", dict(num_layers=1)), ("LSTM", dict(num_layers=2, bidirectional=True)),
         ("GRU", dict(num_layers=2, bidirectional=True)), ("RNN", dict(num_layers=2, bidirectional=True)),
         ("LSTM", dict(num_layers=1, proj_size=2))]


@pytest.mark.parametrize("kind, options", CASES)
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_on_packed_batches_equal_torch(torch, kind, options, with_state):
    lengths = [3, 5, 1, 4, 2]
    reference = getattr(torch.nn, kind)(3, 4, **options).double()
    layer = getattr(nn, kind)(3, 4, dtype=np.float64, **options)
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    seqs = ragged(features=(3,), lengths=lengths, seed=5)
    xs = [cr.tensor(s, requires_grad=True) for s in seqs]
    xts = [torch.tensor(s, requires_grad=True) for s in seqs]
    packed = rnn.pack_sequence(xs, enforce_sorted=False)
    packed_t = torch.nn.utils.rnn.pack_sequence(xts, enforce_sorted=False)
    directions = 2 if options.get("bidirectional") else 1
    rng = np.random.default_rng(6)
    h_size = options.get("proj_size") or 4
    hx = hxt = None
    if with_state:
        h0 = rng.standard_normal((options["num_layers"] * directions, 5, h_size))
        c0 = rng.standard_normal((options["num_layers"] * directions, 5, 4))
        hx, hxt = (cr.tensor(h0), torch.tensor(h0)) if kind != "LSTM" else (
            (cr.tensor(h0), cr.tensor(c0)), (torch.tensor(h0), torch.tensor(c0)))
    out, state = layer(packed, hx)
    out_t, state_t = reference(packed_t, hxt)
    assert isinstance(out, rnn.PackedSequence)
    assert out.batch_sizes.tolist() == out_t.batch_sizes.tolist()
    assert out.unsorted_indices.tolist() == out_t.unsorted_indices.tolist()
    np.testing.assert_allclose(out.data.numpy(), out_t.data.detach().numpy(), rtol=1e-12, atol=1e-13)
    states = state if kind == "LSTM" else (state,)
    states_t = state_t if kind == "LSTM" else (state_t,)
    for s, st in zip(states, states_t, strict=True):
        np.testing.assert_allclose(s.numpy(), st.detach().numpy(), rtol=1e-12, atol=1e-13)
    weights = rng.standard_normal(out_t.data.shape)
    h_weights = rng.standard_normal(states_t[0].shape)
    loss = (out.data * cr.tensor(weights)).sum() + (states[0] * cr.tensor(h_weights)).sum()
    loss_t = (out_t.data * torch.tensor(weights)).sum() + (states_t[0] * torch.tensor(h_weights)).sum()
    loss.backward()
    loss_t.backward()
    for a, b in zip(xs, xts, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-11, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), reference.get_parameter(name).grad.numpy(), rtol=1e-11,
                                   atol=1e-12, err_msg=name)


def test_packed_gru_gradient_matches_central_differences():
    layer = nn.GRU(2, 3, bidirectional=True, dtype=np.float64, seed=1)
    seqs = ragged(features=(2,), lengths=[2, 4, 1], seed=3)

    def f(*xs):
        out, h = layer(rnn.pack_sequence(list(xs), enforce_sorted=False))
        return (out.data ** 2).sum() + (h * h).sum() * 0.5

    assert cr.gradcheck(f, *[cr.tensor(s, requires_grad=True) for s in seqs], atol=1e-7, rtol=1e-6)


def test_packed_input_with_wrong_width_is_refused():
    layer = nn.LSTM(3, 4)
    packed = rnn.pack_sequence([cr.zeros(2, 5), cr.zeros(1, 5)])
    with pytest.raises(ShapeError, match=r"data must be \(sum of lengths, input_size\) with input_size = 3"):
        layer(packed)
