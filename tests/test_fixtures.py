"""The shipped fixtures are exactly what the reference computes on the specs' inputs."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import fixtures
from course_utils.checks import specs
from course_utils.fixtures import make


@pytest.fixture(scope="module")
def fresh():
    return make.build_elementwise()


def test_shipped_fixtures_equal_a_fresh_computation_bit_for_bit(fresh):
    shipped = fixtures.load()
    assert sorted(shipped) == sorted(fresh)
    same_machine = np.array_equal(shipped[make.PROBE_KEY], fresh[make.PROBE_KEY])
    stale = make.differences(fresh, make.HERE / "elementwise.npz")
    how = ("bit for bit" if same_machine else
           f"beyond {make.PORTABLE_ULPS} ULP; NumPy rounds exp/log differently on this CPU")
    assert not stale, (f"fixtures differ from the reference ({how}); regenerate with "
                       f"`python -m course_utils.fixtures.make`: {stale[:10]}")
    if same_machine:
        for key, value in fresh.items():
            assert shipped[key].tobytes() == np.asarray(value, order="C").tobytes(), key


def test_comparison_is_bitwise_on_the_same_kind_of_machine_and_within_ulps_elsewhere(
        tmp_path, fresh):
    path = tmp_path / "elementwise.npz"
    key = "values/swish/expected"
    changed = dict(fresh)
    nudged = np.array(fresh[key])
    nudged[2, 3] = np.nextafter(nudged[2, 3], np.inf)
    changed[key] = nudged
    path.write_bytes(make.to_bytes(changed))
    assert make.differences(fresh, path) == [key]            # same probe: every bit counts
    changed[make.PROBE_KEY] = np.zeros_like(fresh[make.PROBE_KEY])
    nan_key = "edge/relu/float64/expected"
    flipped = np.array(fresh[nan_key])
    flipped[np.isnan(flipped)] *= -1                        # the sign of a nan
    changed[nan_key] = flipped
    path.write_bytes(make.to_bytes(changed))
    assert make.differences(fresh, path) == []              # other CPU: 1 ULP, nan signs ok
    far = np.array(fresh[key])
    far[2, 3] = far[2, 3] * (1 + 1e-12)
    changed[key] = far
    path.write_bytes(make.to_bytes(changed))
    assert make.differences(fresh, path) == [key]           # ... but not 1e-12 relative


def test_make_check_agrees(capsys):
    assert make.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_make_writes_a_reproducible_file(tmp_path, fresh, capsys):
    assert make.main(["--out", str(tmp_path)]) == 0
    first = (tmp_path / "elementwise.npz").read_bytes()
    assert make.to_bytes(fresh) == first  # no timestamps, sorted keys
    assert make.differences(fresh, tmp_path / "elementwise.npz") == []
    capsys.readouterr()


def test_make_check_detects_a_stale_file(tmp_path, fresh, capsys):
    changed = dict(fresh)
    expected = np.array(changed["values/sigmoid/expected"])
    expected[0, 0] = np.nextafter(expected[0, 0], 1.0)  # one ULP
    changed["values/sigmoid/expected"] = expected
    (tmp_path / "elementwise.npz").write_bytes(make.to_bytes(changed))
    assert make.differences(fresh, tmp_path / "elementwise.npz") == ["values/sigmoid/expected"]
    assert make.main(["--check", "--out", str(tmp_path)]) == 1
    assert "stale fixtures" in capsys.readouterr().err


def test_fixtures_are_read_only_and_cached():
    data = fixtures.load()
    assert fixtures.load() is data
    with pytest.raises(ValueError):
        data["values/relu/z"][0] = 1.0
    with pytest.raises(TypeError):
        data["values/relu/z"] = np.zeros(3)
    with pytest.raises(ValueError, match="unknown fixture"):
        fixtures.load("nope")


@pytest.mark.parametrize("name", specs.NAMES)
def test_fixture_inputs_are_the_specs_inputs(name):
    data = fixtures.load()
    spec = specs.SPECS[name]
    np.testing.assert_array_equal(data[f"values/{name}/z"], spec.grid())
    np.testing.assert_array_equal(data[f"dtype/{name}/z"], spec.dtype_grid())
    rows = spec.param_rows
    for p in spec.params:
        assert list(data[f"values/{name}/{p.name}"]) == [r[p.name] for r in rows]
    assert data[f"values/{name}/expected"].shape == (len(rows), spec.grid().size)
    for dtype in specs.DTYPES:
        assert data[f"dtype/{name}/expected_{dtype}"].dtype == dtype
        pairs = specs.edge_inputs(spec, dtype)
        z = data[f"edge/{name}/{dtype}/z"]
        assert z.dtype == dtype
        for (_row, zi), stored in zip(pairs, z, strict=True):
            assert zi.tobytes() == stored.tobytes()
        for p in spec.params:
            assert list(data[f"edge/{name}/{dtype}/{p.name}"]) == [r[p.name] for r, _ in pairs]


@pytest.mark.parametrize("name", specs.NAMES)
def test_edge_fixtures_give_the_specs_limits_and_propagate_nan(name):
    data = fixtures.load()
    spec = specs.SPECS[name]
    for dtype in specs.DTYPES:
        key = f"edge/{name}/{dtype}"
        for i, row in enumerate(spec.param_rows):
            z, expected = data[f"{key}/z"][i], data[f"{key}/expected"][i]
            lo, hi = spec.limits(**row)
            for value, limit in ((-np.inf, lo), (np.inf, hi)):
                at = z == value
                if at.any():
                    assert expected[at][0] == limit, (name, dtype, row, value)
            assert np.isnan(expected[np.isnan(z)]).all()
            assert np.isfinite(expected[np.isfinite(z) & (np.abs(z) <= 1e4)]).all()


@pytest.mark.parametrize("name", [n for n, s in specs.SPECS.items() if s.kink is not None])
def test_value_fixtures_follow_the_kink_convention(name):
    data = fixtures.load()
    z = data[f"values/{name}/z"]
    assert (data[f"values/{name}/expected"][:, z == 0] == specs.SPECS[name].kink).all()


def test_prelu_grad_a_fixtures():
    data = fixtures.load()
    for i, (z, a, upstream) in enumerate(specs.prelu_grad_a_inputs()):
        np.testing.assert_array_equal(data[f"prelu_grad_a/{i}/z"], z)
        np.testing.assert_array_equal(data[f"prelu_grad_a/{i}/upstream"], upstream)
        assert float(data[f"prelu_grad_a/{i}/a"]) == a
        expected = float(data[f"prelu_grad_a/{i}/expected"])
        assert expected == pytest.approx(float(np.sum(upstream * np.minimum(z, 0))), rel=1e-12)
    assert f"prelu_grad_a/{len(specs.PRELU_GRAD_A_SHAPES)}/z" not in data
