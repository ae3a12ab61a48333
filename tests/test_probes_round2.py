"""Adversarial input, round 2: transforms, gradcheck, user primitives, io, data, the command line, explanations.

Each test is a finding: the input used to give a NumPy traceback, a silently wrong number, or lost data. Now it
gives a clear error that says what was wrong and what was expected, or the right answer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import data
from chainrule.cli import charlm
from chainrule.cli.train import main as train_main
from chainrule.io import SafetensorsError

torch = pytest.importorskip("torch")


def central_difference(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The gradient of a scalar f by central differences, element by element (float64)."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


# ---------------------------------------------------------------------------------------------------------------
# Transforms
# ---------------------------------------------------------------------------------------------------------------
NOT_NUMBERS = [
    pytest.param(None, id="None"),
    pytest.param("abc", id="str"),
    pytest.param(np.array([1.0, None, 2.0], dtype=object), id="object-array"),
    pytest.param(np.array(["2020-01-01"] * 3, dtype="datetime64[D]"), id="dates"),
    pytest.param({"a": 1.0}, id="dict"),
]


@pytest.mark.parametrize("cotangent", NOT_NUMBERS)
def test_vjp_refuses_a_cotangent_that_is_not_numbers(cotangent):
    # Was: None and objects became nan, dates a count of days (silently), strings a NumPy ValueError.
    _, vjp_fn = cr.vjp(lambda x: (x ** 2).sum(), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="vjp: the cotangent must be numbers"):
        vjp_fn(cotangent)


@pytest.mark.parametrize("tangent", NOT_NUMBERS[1:4])
def test_jvp_refuses_a_tangent_that_is_not_numbers(tangent):
    x = np.array([1.0, 2.0, 3.0])
    if np.ndim(tangent) == 0:  # a scalar tangent needs a scalar primal to get past the shape check
        x = 1.5
    with pytest.raises(TypeError, match="jvp: tangent 0 must be numbers"):
        cr.jvp(lambda x: x ** 2, (x,), (tangent,))


def test_numbers_in_other_forms_still_work_as_cotangents_and_tangents():
    x = np.array([1.0, 2.0, 3.0])
    _, vjp_fn = cr.vjp(lambda x: x ** 2, x)
    reference = 2 * x * np.array([1, 0, 1])
    np.testing.assert_array_equal(vjp_fn(np.array([True, False, True]))[0], reference)
    np.testing.assert_array_equal(vjp_fn([1, 0, 1])[0], reference)
    import decimal
    import fractions

    _, vjp_scalar = cr.vjp(lambda x: (x ** 2).sum(), x)
    np.testing.assert_array_equal(vjp_scalar(decimal.Decimal("0.5"))[0], x)
    assert cr.jvp(lambda x: x ** 3, (2.0,), (fractions.Fraction(1, 2),))[1] == 6.0


def test_a_function_writing_into_its_input_writes_into_the_callers_array_and_differentiates_at_the_new_value():
    # The input shares the caller's array, as a NumPy function's argument does (no copy of megabytes per call); the
    # gradient is taken at the values the function computed with.
    def f(x):
        x.data[0] = 5.0
        return (x ** 2).sum()

    a = np.array([1.0, 2.0])
    g = cr.grad(f)(a)
    np.testing.assert_array_equal(a, [5.0, 2.0])
    xt = torch.tensor([5.0, 2.0], dtype=torch.float64, requires_grad=True)
    (xt ** 2).sum().backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(g, central_difference(lambda v: float((v ** 2).sum()), np.array([5.0, 2.0])),
                               rtol=1e-8)
    ints = np.array([1, 2])  # an integer array is converted (to float64), so the caller's stays as it was
    cr.grad(f)(ints)
    np.testing.assert_array_equal(ints, [1, 2])


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacobian", "hessian"])
def test_transforms_refuse_something_that_is_not_a_function_when_made(transform):
    # Was: "'int' object is not callable" from inside the trace, only when the result was called.
    with pytest.raises(TypeError, match=f"{transform} expects a function"):
        getattr(cr, transform)(3)
    with pytest.raises(TypeError, match="vjp expects a function"):
        cr.vjp(np.ones(2), 1.0)
    with pytest.raises(TypeError, match="jvp expects a function"):
        cr.jvp("sin(x)", (1.0,), (1.0,))


def test_a_nested_jacobian_too_large_to_hold_is_a_memory_error_before_the_work():
    # Was: one recorded backward pass per output element (200,000 of them) before running out of memory: a hang.
    with pytest.raises(MemoryError, match="200,000 × 200,000 entries"):
        cr.grad(lambda x: cr.jacobian(lambda y: y * 2)(x).sum())(np.ones(200_000))
    x = np.array([0.5, -1.5, 2.0])
    ours = cr.grad(lambda v: (cr.jacobian(lambda y: y ** 3)(v) ** 2).sum())(x)
    xt = torch.tensor(x, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda y: y ** 3, xt, create_graph=True)
    (jac ** 2).sum().backward()
    np.testing.assert_allclose(ours, xt.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(ours, central_difference(lambda v: float(((3 * v ** 2) ** 2).sum()), x), rtol=1e-7)


def test_hessian_errors_name_hessian():
    # Was: "grad needs a function with a scalar output" and "jacobian: cannot differentiate ..." from cr.hessian.
    with pytest.raises(cr.ShapeError, match=r"^hessian needs a function with a scalar output, .* shape \(2,\)"):
        cr.hessian(lambda x: x ** 3)(np.ones(2))
    with pytest.raises(TypeError, match=r"^hessian: cannot differentiate with respect to str"):
        cr.hessian(lambda x: (x ** 2).sum())("abc")
    with pytest.raises(TypeError, match=r"with cr\.hessian\(f, holomorphic=True\)"):
        cr.hessian(lambda x: x * 1j)(1.0)
    x = np.array([0.5, -2.0])
    xt = torch.tensor(x, requires_grad=True)
    reference = torch.autograd.functional.hessian(lambda v: (v ** 3).sum() * v[0], xt).numpy()
    ours = cr.hessian(lambda v: (v ** 3).sum() * v[0])(x)
    np.testing.assert_allclose(ours, reference, rtol=1e-14)

    def gradient(v):  # of (Σ v³)·v₀, written out
        return 3 * v ** 2 * v[0] + np.array([(v ** 3).sum(), 0.0])

    by_differences = np.stack([central_difference(lambda v, i=i: gradient(v)[i], x) for i in range(2)])
    np.testing.assert_allclose(ours, by_differences, rtol=1e-7)


def test_a_container_nested_past_the_recursion_limit_is_a_clear_error():
    # Was: RecursionError from deep inside the container walk.
    deep = 1.0
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        cr.grad(lambda t: 0.0)(deep)


# ---------------------------------------------------------------------------------------------------------------
# gradcheck
# ---------------------------------------------------------------------------------------------------------------
def test_gradcheck_refuses_inputs_that_are_not_numbers():
    # Was: None became nan and gradcheck reported a failing gradient ("numerical gradient nan").
    with pytest.raises(TypeError, match="gradcheck: input 0 is NoneType"):
        cr.gradcheck(lambda a: a, None)
    with pytest.raises(TypeError, match="gradcheck: input 1 is ndarray"):
        cr.gradcheck(lambda a, b: a * b, 1.0, np.array([None]))


@pytest.mark.parametrize("result", [None, "s", [1.0]])
def test_gradcheck_says_what_the_function_returned_instead_of_a_number(result):
    # Was: GradcheckError with nan (None) or NumPy's "could not convert string to float".
    with pytest.raises(TypeError, match="gradcheck: the function must return a Tensor or a number"):
        cr.gradcheck(lambda a: result, np.array([1.0, 2.0]))


@pytest.mark.parametrize(("option", "value", "error"), [
    ("eps", 0.0, ValueError), ("eps", -1e-6, ValueError), ("eps", float("nan"), ValueError),
    ("atol", float("nan"), ValueError), ("atol", -1.0, ValueError), ("rtol", float("inf"), ValueError),
    ("rtol", "a", TypeError), ("eps", None, TypeError),
])
def test_gradcheck_checks_its_step_and_tolerances(option, value, error):
    # Was: eps=0 or nan reported a wrong gradient (numerical nan), a negative eps or an infinite tolerance passed
    # anything, a str tolerance failed inside NumPy.
    with pytest.raises(error, match=f"gradcheck: {option} must be"):
        cr.gradcheck(lambda a: cr.sin(a), np.array([0.5]), **{option: value})


def test_gradcheck_of_a_jacobian_too_large_to_hold_is_a_clear_memory_error():
    # Was: NumPy's "Unable to allocate 74.5 GiB" from inside the Jacobian's allocation.
    with pytest.raises(MemoryError, match="gradcheck: checking 1,000,000 input elements against 1,000,000"):
        cr.gradcheck(lambda a: a * 3, np.zeros(10**6))


def test_gradcheck_still_finds_a_wrong_gradient_and_passes_a_right_one():
    wrong = cr.primitive(np.sin, name="probe_wrong_sin")
    wrong.defvjp(lambda g, y, x: g * 2.0)
    with pytest.raises(cr.GradcheckError, match="input 0 at element"):
        cr.gradcheck(lambda a: wrong(a), np.array([0.3, 1.1]))
    assert cr.gradcheck(lambda a: cr.sin(a) * a, np.array([0.3, 1.1]), eps=1e-6, atol=1e-8, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# User primitives (cr.primitive / defvjp)
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("result", [
    pytest.param(lambda g, y, x: "abc", id="str"),
    pytest.param(lambda g, y, x: {"a": 1}, id="dict"),
    pytest.param(lambda g, y, x: np.array([None] * 3), id="object-array"),
    pytest.param(lambda g, y, x: np.array(["2020-01-01"] * 3, dtype="datetime64[D]"), id="dates"),
])
def test_a_vjp_returning_something_other_than_numbers_is_named(result):
    # Was: NumPy's "could not convert string to float", or silently nan (None) or day counts (dates).
    p = cr.primitive(np.sin, name="probe_bad_vjp")
    p.defvjp(result)
    x = np.array([1.0, 2.0, 3.0])
    message = r"the vjp for argument 0 \('x'\) of primitive 'probe_bad_vjp' returned .*; return numbers"
    with pytest.raises(TypeError, match=message):
        cr.grad(lambda a: p(a).sum())(x)
    with pytest.raises(TypeError, match=message):  # recorded (create_graph): the same message
        cr.hessian(lambda a: p(a).sum())(x)


def test_a_vjp_with_the_wrong_signature_is_refused_when_given():
    # Was: "<lambda>() takes 1 positional argument but 3 were given" in the middle of backward.
    p = cr.primitive(np.sin, name="probe_bad_signature")
    with pytest.raises(TypeError, match=r"vjp 0 has the signature \(g\), but it is called as vjp\(g, y, x\)"):
        p.defvjp(lambda g: g)
    q = cr.primitive(lambda a, b: a * b, name="probe_two_args")
    with pytest.raises(TypeError, match=r"vjp 1 has the signature \(g, y, a\), .* vjp\(g, y, a, b\)"):
        q.defvjp(lambda g, y, a, b: g * b, lambda g, y, a: g * a)
    q.defvjp(lambda g, y, a, b: g * b, lambda g, y, *args: g * args[0])  # *args binds any count
    with pytest.raises(TypeError, match=r"jvp 0 has the signature \(t\), but it is called as jvp\(t, y, a, b\)"):
        q.defjvp(lambda t: t, None)
    a, b = 0.7, -1.3
    assert cr.grad(q, argnums=(0, 1))(a, b) == (b, a)
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (a, b))
    (ta * tb).backward()
    assert cr.grad(q, argnums=(0, 1))(a, b) == (ta.grad.item(), tb.grad.item())


# ---------------------------------------------------------------------------------------------------------------
# io: cr.save / cr.load
# ---------------------------------------------------------------------------------------------------------------
def test_an_int_too_long_to_load_back_is_refused_by_save_and_the_old_file_kept(tmp_path):
    # Was: save wrote the file, then load refused it ("unknown tag or bad value"): a checkpoint that cannot be read.
    path = tmp_path / "c.safetensors"
    cr.save({"w": np.ones(2), "step": 10**399}, path)
    assert cr.load(path)["step"] == 10**399
    for n in (10**400, -(10**400), 10**5000):
        with pytest.raises(SafetensorsError, match="more than 400 digits"):
            cr.save({"w": np.zeros(2), "step": n}, path)
    assert cr.load(path)["step"] == 10**399
    np.testing.assert_array_equal(cr.load(path)["w"], np.ones(2))


def test_a_tensor_of_another_array_library_is_saved_and_a_raw_one_named(tmp_path):
    # Was: "value 'a' is a Tensor; expected a Tensor or a NumPy array" for cr.tensor(torch_tensor).
    path = tmp_path / "t.safetensors"
    values = torch.tensor([1.5, -2.0, 3.25], dtype=torch.float64)
    cr.save({"a": cr.tensor(values)}, path)
    loaded = cr.load(path)["a"]
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, values.numpy())
    with pytest.raises(TypeError, match=r"is a torch\.Tensor"):
        cr.save({"a": values}, path)
    with pytest.raises(TypeError, match=r"is a torch\.Tensor"):
        cr.save({"a": {"b": values}}, path)


def test_a_masked_array_is_not_saved_without_its_mask(tmp_path):
    # Was: saved as plain data, the hidden value (2.0) coming back as if valid.
    with pytest.raises(TypeError, match="masked array"):
        cr.save({"a": np.ma.array([1.0, 2.0], mask=[0, 1])}, tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("path", [3, None, 1.5, [b"x"]])
def test_save_and_load_name_a_path_of_the_wrong_type(tmp_path, path):
    # Was: pathlib's "expected str, bytes or os.PathLike object, not int".
    with pytest.raises(TypeError, match=r"save: path must be a str or a pathlib\.Path"):
        cr.save({"a": np.ones(1)}, path)
    with pytest.raises(TypeError, match=r"load: path must be a str or a pathlib\.Path"):
        cr.load(path)


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------
class _Lying(data.Dataset):
    """Claims 10 samples but has 5."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i >= 5:
            raise IndexError(i)
        return np.ones(2), i


def test_a_dataset_whose_len_lies_is_named_with_the_index():
    # Was: the dataset's bare IndexError(5) (or KeyError(0) for a dict with str keys).
    with pytest.raises(IndexError, match=r"dataset\[5\] raised IndexError\(5\), but len\(dataset\) is 10"):
        list(data.DataLoader(_Lying(), batch_size=3))
    with pytest.raises(KeyError, match=r"dataset\[0\] raised KeyError"):
        list(data.DataLoader({"a": 1.0, "b": 2.0}, batch_size=2))
    assert [b.tolist() for b in data.DataLoader({0: 1.0, 1: 2.0, 2: 3.0}, batch_size=2)] == [[1.0, 2.0], [3.0]]


@pytest.mark.parametrize("length", [-1, 2.5, "3"])
def test_a_bad_len_is_named(length):
    # Was: Python's "__len__() should return >= 0" or "'float' object cannot be interpreted as an integer".
    class Bad(data.Dataset):
        def __len__(self):
            return length

        def __getitem__(self, i):
            return 1.0

    with pytest.raises(TypeError, match=r"DataLoader: len\(dataset\) must be an int >= 0"):
        list(data.DataLoader(Bad(), batch_size=2))


@pytest.mark.parametrize(("option", "value"), [("seed", "a"), ("seed", -1), ("seed", 1.5), ("seed", True),
                                               ("shuffle", "no"), ("drop_last", "no"), ("shuffle", 2)])
def test_loader_options_are_checked(option, value):
    # Was: NumPy's SeedSequence errors for a bad seed; shuffle="no" meant shuffle=True, silently.
    with pytest.raises(TypeError, match=f"DataLoader: {option} must be"):
        data.DataLoader([1.0, 2.0], batch_size=1, **{option: value})


def test_loader_flags_and_seeds_that_are_right_still_work():
    loader = data.DataLoader(np.arange(6.0), batch_size=2, shuffle=1, drop_last=np.bool_(False), seed=np.int64(3))
    again = data.DataLoader(np.arange(6.0), batch_size=2, shuffle=True, seed=np.random.default_rng(3))
    first = [b[0].tolist() for b in loader]
    assert sorted(v for batch in first for v in batch) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert first == [b[0].tolist() for b in again]  # seed 3 and a Generator seeded 3 draw the same order


@pytest.mark.parametrize("column", [np.array(["a", "b"]), np.array([None, 1.0], dtype=object)])
def test_a_dataset_of_strings_or_objects_is_refused_when_made(column):
    # Was: accepted, then "cannot make a tensor" at the first batch of the first epoch.
    with pytest.raises(TypeError, match="TensorDataset: argument 1 has dtype"):
        data.TensorDataset(np.zeros((2, 3)), column)
    with pytest.raises(TypeError, match="TensorDataset: argument 0 has dtype"):
        data.DataLoader(column, np.zeros(2), 2)


def test_ragged_rows_are_a_shape_error():
    # Was: NumPy's "setting an array element with a sequence ... inhomogeneous shape".
    with pytest.raises(cr.ShapeError, match="ragged list"):
        data.DataLoader([[1.0], [2.0, 3.0]], [0, 1], 2)


@pytest.mark.parametrize(("text", "message"), [(None, "got NoneType"), (b"abc", "decode it first"),
                                               (3, "got int")])
def test_char_tokenizer_names_text_of_the_wrong_type(text, message):
    # Was: "'NoneType' object is not iterable", and "got a int" for bytes (it iterated over the bytes).
    with pytest.raises(TypeError, match=f"CharTokenizer expects text .*{message}"):
        data.CharTokenizer(text)


# ---------------------------------------------------------------------------------------------------------------
# Command line: chainrule train
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option", [["--resume", "runs/text-charlm.safetensors"], ["--layers", "3"],
                                    ["--dropout", "0.1"], ["--temperature", "0.9"], ["--top-k", "3"]])
def test_charlm_options_given_to_another_model_are_refused_before_training(tmp_path, capsys, option):
    # Was: ignored: `chainrule train --resume FILE` trained an MLP from scratch and overwrote the saved model.
    model = tmp_path / "digits-mlp.safetensors"
    model.write_bytes(b"the previous model")
    assert train_main(["--epochs", "1", "--out", str(tmp_path), "--no-progress", *option]) == 2
    assert f"{option[0]} is for --model charlm only" in capsys.readouterr().err
    assert model.read_bytes() == b"the previous model"


@pytest.fixture(scope="module")
def charlm_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("charlm")
    charlm.train_charlm(epochs=2, stop_after=1, out_dir=out, say=lambda _: None, sample_length=2, layers=1, width=8,
                        heads=2, context=8, steps_per_epoch=2, batch_size=2, val_batches=1)
    return cr.load(out / "text-charlm.safetensors")


CRAFTED = [
    ("settings", "nope", "its settings are not a JSON object"),
    ("settings", "[1]", "its settings are not a JSON object"),
    ("settings", np.ones(1), "its settings are not a JSON object"),
    ("settings", json.dumps({"layers": 1}), "its settings have epochs=None"),
    ("epoch", "x", "its epoch is 'x'"),
    ("epoch", -5, "its epoch is -5"),
    ("tokenizer", {}, "it holds no tokenizer"),
    ("tokenizer", 3, "it holds no tokenizer"),
    ("history", 5, "its history is not a dict of lists"),
    ("model", {"foo": np.ones(1)}, "missing key"),
    ("optimizer", {"foo": 1}, "parameter group"),
    ("scheduler", {"foo": 1}, "saved schedulers"),
]


@pytest.mark.parametrize(("part", "value", "message"), CRAFTED, ids=[f"{p}-{m[:12]}" for p, _, m in CRAFTED])
def test_a_wrong_or_crafted_checkpoint_to_resume_is_a_clear_value_error(tmp_path, capsys, charlm_checkpoint, part,
                                                                        value, message):
    # Was: JSONDecodeError, KeyError('epochs'), AttributeError ('int' object has no attribute 'items'),
    # NumPy's "expected non-negative integer" for epoch -5... (AttributeError even left the CLI with a traceback).
    path = tmp_path / "bad.safetensors"
    cr.save({**charlm_checkpoint, part: value}, path)
    with pytest.raises(ValueError, match=f"is not a usable charlm checkpoint: .*{message}"):
        charlm.train_charlm(resume=path, out_dir=None, say=lambda _: None, sample_length=2)
    assert train_main(["--model", "charlm", "--resume", str(path), "--out", str(tmp_path), "--no-progress"]) == 1
    assert "is not a usable charlm checkpoint" in capsys.readouterr().err


def test_a_resumed_checkpoint_too_large_to_build_is_one_line_on_the_command_line(tmp_path, capsys,
                                                                                charlm_checkpoint):
    # Was: a MemoryError traceback (the sizes come from the file, past the command line's bounds).
    settings = {**json.loads(charlm_checkpoint["settings"]), "width": 10**9, "heads": 1}
    path = tmp_path / "huge.safetensors"
    cr.save({**charlm_checkpoint, "settings": json.dumps(settings)}, path)
    assert train_main(["--model", "charlm", "--resume", str(path), "--out", str(tmp_path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chainrule train: ") and "more memory than this machine can allocate" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------------------------
# Explanations, optimizers' saved state
# ---------------------------------------------------------------------------------------------------------------
def test_explaining_a_loss_whose_graph_backward_released_says_so():
    # Was: "float() argument must be a string or a real number, not 'NoneType'" from inside the step records.
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(ValueError, match=r"released by loss.backward\(\).*retain_graph=True"):
        cr.explain(loss)
    kept = (w * w).sum()
    kept.backward(retain_graph=True)
    np.testing.assert_allclose(cr.explain(kept).gradients["p1"], 2 * np.array([1.0, 2.0]), rtol=1e-15)


def _stepped_adam():
    model = cr.nn.Linear(2, 1).to(np.float64)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    model(cr.tensor([[1.0, 2.0]])).sum().backward()
    opt.step()
    return model, opt.state_dict()


def _edit(state, edit):
    import copy

    state = copy.deepcopy(state)
    edit(state)
    return state


BAD_OPTIMIZER_STATES = [
    (lambda s: s["state"].__setitem__(7, s["state"][0]), "entry 7 that is not a parameter index"),
    (lambda s: s["state"].__setitem__("x", s["state"][0]), "entry 'x' that is not a parameter index"),
    (lambda s: s.__setitem__("state", 5), "'state' is a int"),
    (lambda s: s["state"][0].__setitem__("exp_avg", np.ones(7)), r"'exp_avg' of parameter 0 has shape \(7,\)"),
    (lambda s: s["state"][0].__setitem__("step", "x"), "'step' of parameter 0 is a str"),
    (lambda s: s["param_groups"][0].__setitem__("lr", "abc"), "group 0 has lr='abc'"),
    (lambda s: s["param_groups"][0].__setitem__("lr", float("nan")), "group 0 has lr=nan"),
    (lambda s: s["param_groups"][0].__setitem__("betas", [0.9]), r"betas=\[0.9\]; expected 2 finite numbers"),
    (lambda s: s["param_groups"][0].pop("params"), "group 0 is not a dict with a 'params' list"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_OPTIMIZER_STATES, ids=[m[:20] for _, m in BAD_OPTIMIZER_STATES])
def test_a_wrong_optimizer_state_is_refused_and_leaves_the_optimizer_as_it_was(edit, message):
    # Was: IndexError, AttributeError, a broadcasting error or a str/float TypeError at the next step(), or nan
    # parameters (lr=nan), after half the state had been replaced.
    model, good = _stepped_adam()
    opt = cr.optim.Adam(model.parameters(), lr=5e-2)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(_edit(good, edit))
    assert opt.param_groups[0]["lr"] == 5e-2 and not opt.state
    with pytest.raises(TypeError, match=r"Adam\.load_state_dict expects the dict saved by state_dict"):
        opt.load_state_dict(None)


def test_a_right_optimizer_state_still_loads_and_steps_as_pytorch():
    model, good = _stepped_adam()
    reloaded = cr.optim.Adam(model.parameters(), lr=1.0)
    reloaded.load_state_dict(good)
    assert reloaded.param_groups[0]["lr"] == 1e-3
    twin = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(model.weight.data, dtype=torch.float64))
        twin.bias.copy_(torch.tensor(model.bias.data, dtype=torch.float64))
    torch_opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    torch_state = torch_opt.state_dict()
    for i, saved in good["state"].items():
        torch_state["state"][i] = {k: torch.tensor(np.asarray(v)) for k, v in saved.items()}
    torch_opt.load_state_dict(torch_state)
    x = np.array([[0.5, -1.5]])
    reloaded.zero_grad()
    model(cr.tensor(x)).sum().backward()
    reloaded.step()
    torch_opt.zero_grad()
    twin(torch.tensor(x)).sum().backward()
    torch_opt.step()
    np.testing.assert_allclose(model.weight.data, twin.weight.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(model.bias.data, twin.bias.detach().numpy(), rtol=1e-12)


def test_json_output_is_standard_json_even_for_an_infinite_derivative(capsys):
    # Was: "Infinity" tokens (Python's extension), which JavaScript's JSON.parse and strict readers refuse.
    def strict(text):
        return json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard JSON token {token}"))

    explanation = cr.explain("sqrt(x)", x=0.0)
    assert strict(explanation.to_json())["gradients"] == {"x": "inf"}
    assert strict(explanation.to_json(indent=None))["value"] == 0.0
    from chainrule.cli import main

    assert main(["derive", "sqrt(x)", "--at", "x=0", "--format", "json", "--explain"]) == 0
    out = strict(capsys.readouterr().out)
    assert out["gradient"] == {"x": "inf"} and out["explanation"]["gradients"] == {"x": "inf"}
    finite = strict(cr.explain("sin(x) * y", x=0.5, y=2.0).to_json())  # finite numbers stay numbers
    assert finite["gradients"] == {"x": pytest.approx(2 * np.cos(0.5), rel=1e-15), "y": np.sin(0.5)}
    with pytest.raises(TypeError, match="indent must be None or an int"):
        explanation.to_json(indent="a")
    with pytest.raises(ValueError, match="indent must be None or an int"):
        explanation.to_json(indent=-5)


def test_draw_checks_max_nodes_and_names():
    # Was: "'>' not supported between 'int' and 'str'", "sequence item 0: expected str instance", and a name given
    # to a non-Tensor silently dropped.
    x = cr.tensor(1.0, requires_grad=True)
    y = cr.sin(x)
    with pytest.raises(TypeError, match="max_nodes must be an int >= 1"):
        cr.draw(y, max_nodes="a")
    with pytest.raises(ValueError, match="max_nodes must be an int >= 1"):
        cr.draw(y, max_nodes=-1)
    for names in ({3: x}, {"x": 3}, [("x", x)]):
        with pytest.raises(TypeError, match="names must map names"):
            cr.draw(y, names=names)
    assert 'label="x\\nvalue = 1"' in str(cr.draw(y, names={"x": x}))


def _schedulers(opt):
    return {
        "StepLR": cr.optim.StepLR(opt, 2),
        "CosineAnnealingLR": cr.optim.CosineAnnealingLR(opt, 5),
        "OneCycleLR": cr.optim.OneCycleLR(opt, 1.0, total_steps=10),
        "ReduceLROnPlateau": cr.optim.ReduceLROnPlateau(opt),
    }


BAD_SCHEDULER_STATES = [
    ("StepLR", "step_size", "x", "'step_size' is 'x'; expected a number"),
    ("StepLR", "last_epoch", None, "'last_epoch' is None; expected a number"),
    ("StepLR", "gamma", float("nan"), "'gamma' is nan; expected a number"),
    ("StepLR", "base_lrs", 0.1, r"'base_lrs' is 0.1; expected a list of 1"),
    ("StepLR", "step", 5, "'step' is not an entry of a saved scheduler"),
    ("StepLR", "optimizer", None, "'optimizer' is not an entry"),
    ("CosineAnnealingLR", "eta_min", "x", "'eta_min' is 'x'"),
    ("OneCycleLR", "phases", None, "'phases' is None; expected a list of 2"),
    ("OneCycleLR", "use_beta1", "x", "'use_beta1' is 'x'; expected True or False"),
    ("ReduceLROnPlateau", "mode", 3, "'mode' is 3; expected a string"),
    ("ReduceLROnPlateau", "best", float("nan"), "'best' is nan"),
]


@pytest.mark.parametrize(("kind", "key", "value", "message"), BAD_SCHEDULER_STATES,
                         ids=[f"{k}-{key}" for k, key, _, _ in BAD_SCHEDULER_STATES])
def test_a_wrong_scheduler_state_is_refused_before_it_changes_anything(kind, key, value, message):
    # Was: stored as given: a str step_size or a None last_epoch failed at the next step() deep inside, nan gave nan
    # learning rates, and a key 'step' replaced the method (then "'int' object is not callable").
    model = cr.nn.Linear(2, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    scheduler = _schedulers(opt)[kind]
    saved = scheduler.state_dict()
    before = dict(scheduler.__dict__)
    with pytest.raises(ValueError, match=f"{kind}.load_state_dict: {message}"):
        scheduler.load_state_dict({**saved, key: value})
    assert scheduler.__dict__ == before


def test_a_right_scheduler_state_still_loads_and_continues_as_pytorch():
    model = cr.nn.Linear(2, 1)
    opt = cr.optim.SGD(model.parameters(), lr=1)  # an int rate: the saved rates are floats, and load them
    scheduler = cr.optim.StepLR(opt, 2, gamma=0.5)
    twin_opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1)
    twin = torch.optim.lr_scheduler.StepLR(twin_opt, 2, gamma=0.5)
    for _ in range(3):
        opt.step(), scheduler.step(), twin_opt.step(), twin.step()
    resumed_opt = cr.optim.SGD(model.parameters(), lr=1)
    resumed_opt.load_state_dict(opt.state_dict())  # the optimizer's int lr=1 takes the saved float rate
    resumed = cr.optim.StepLR(resumed_opt, 2, gamma=0.5)
    resumed.load_state_dict(scheduler.state_dict())
    for _ in range(3):
        resumed.step(), twin_opt.step(), twin.step()
        assert resumed.get_last_lr() == twin.get_last_lr()


@pytest.mark.parametrize("register", ["add_module", "register_parameter", "register_buffer"])
def test_a_name_that_would_collide_in_state_dict_keys_is_refused(register):
    # Was: accepted; a module named 'a.b' and a module 'a' holding 'b' wrote the same keys 'a.b.weight', and one
    # model's weights silently overwrote the other's in state_dict() (and so in a saved file).
    value = {"add_module": cr.nn.Linear(2, 1), "register_parameter": cr.nn.Parameter(np.ones(2)),
             "register_buffer": np.ones(2)}[register]
    for name in ("a.b", ""):
        with pytest.raises(KeyError, match=r"non-empty and contain no '\.'"):
            getattr(cr.nn.Module(), register)(name, value)
    with pytest.raises(TypeError, match="the name must be a str"):
        getattr(cr.nn.Module(), register)(3, value)
    model = cr.nn.Module()
    getattr(model, register)("ok", value)
    assert [k for k in model.state_dict() if k.startswith("ok")]
