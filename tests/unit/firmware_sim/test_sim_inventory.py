"""Reading lantern specs from GeoJSON, and the CLI's answers to bad input (exit 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.__main__ import main
from firmware_sim.inventory import InventoryError, LanternSpec, load_inventory
from firmware_sim.lantern import ALL_CAPABILITIES
from firmware_sim.transport import BrokerAddress
from tests.support import fixed_env

ROOT = Path(__file__).resolve().parents[3]


def feature(fid: Any = None, **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [8.54, 47.37]},
        "properties": props,
    }
    if fid is not None:
        out["id"] = fid
    return out


def write(tmp_path: Path, features: list[dict[str, Any]]) -> Path:
    path = tmp_path / "lanterns.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_ids_and_capabilities_come_from_the_features(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            feature("LEU1"),
            feature(id="LEU2", capabilities=["rgb", "path_light"]),
            feature(nisnr="LEU3"),
        ],
    )
    assert load_inventory(path) == [
        LanternSpec("LEU1", ALL_CAPABILITIES),
        LanternSpec("LEU2", frozenset({"rgb", "path_light"})),
        LanternSpec("LEU3", ALL_CAPABILITIES),
    ]


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([feature("LEU1"), feature("LEU1")], r"features\[1\]: duplicate lantern id 'LEU1'"),
        ([feature()], r"features\[0\]: no lantern id"),
        ([feature("a/b")], r"features\[0\]: lantern id 'a/b' cannot be used"),
        ([feature("L1", capabilities=["laser"])], r"unknown capabilities \['laser'\]"),
        ([feature("L1", capabilities="rgb")], "must be a list of names"),
    ],
)
def test_bad_features_are_named(tmp_path: Path, features: list[Any], message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        load_inventory(write(tmp_path, features))


def test_missing_file_and_wrong_type_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="inventory file not found"):
        load_inventory(tmp_path / "nope.geojson")
    other = tmp_path / "x.json"
    other.write_text('{"type": "Feature"}')
    with pytest.raises(InventoryError, match="expected a GeoJSON FeatureCollection"):
        load_inventory(other)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker:1884", BrokerAddress("broker", 1884)),
        ("mqtt://127.0.0.1", BrokerAddress("127.0.0.1", 1883)),
        ("mqtts://broker", BrokerAddress("broker", 8883, tls=True)),
    ],
)
def test_broker_url(url: str, expected: BrokerAddress) -> None:
    assert BrokerAddress.parse(url) == expected


def test_cli_refuses_bad_url_and_missing_inventory_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = write(tmp_path, [feature("LEU1")])
    with pytest.raises(SystemExit) as exc:
        main(["--broker", "http://x:1883", "--inventory", str(inventory)])
    assert exc.value.code == 2
    assert "scheme must be mqtt://" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--broker", "mqtt://x:1883", "--inventory", str(tmp_path / "missing.geojson")])
    assert exc.value.code == 2
    assert "inventory file not found" in capsys.readouterr().err
    # An abbreviated --processes would get past the supervisor to every child: refused.
    with pytest.raises(SystemExit) as exc:
        main(["--broker", "mqtt://x:1883", "--inventory", str(inventory), "--proc", "2"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --proc 2" in capsys.readouterr().err


def test_cli_as_a_module_prints_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "firmware_sim", "--broker", "mqtt://x:99999", "--inventory", "x"],
        capture_output=True,
        encoding="utf-8",
        env=fixed_env(),
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "bad port" in result.stderr
    assert "Traceback" not in result.stderr
