"""``firmware-sim``: run a simulated lantern fleet from an inventory until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from firmware_sim.control import ControlServer
from firmware_sim.faults import FaultSpecError, parse_faults, select
from firmware_sim.flash import FlashError
from firmware_sim.fleet import Fleet
from firmware_sim.inventory import InventoryError, LanternSpec, load_inventory
from firmware_sim.transport import BrokerAddress
from firmware_sim.verifier import TrustFile, TrustFileError, read_root, read_trust
from lightctl.protocol import Topics, is_valid_lantern_id
from lightctl.security.ack_keys import AckKey, read_private

log = logging.getLogger("firmware_sim")

# How long to wait for the broker before saying so in the log (paho keeps retrying regardless).
CONNECT_WARN_S = 10.0
# The control API's bearer token, when the caller chooses it (`lightctl demo` does); otherwise
# a random one is printed at start. An environment variable, not a flag: argv is public (ps).
TOKEN_ENV = "FIRMWARE_SIM_CONTROL_TOKEN"  # noqa: S105 (the variable's name, not a secret)
MIN_TOKEN_CHARS = 24
# Where `lightctl keys` keeps an online root's public half, beside trust.json (development, demo).
ROOT_FILE = "root.pub.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firmware-sim",
        allow_abbrev=False,  # `--proc 2` would slip past the supervisor's own options
        description="Simulate lantern firmware: one MQTT connection per few hundred lanterns.",
    )
    parser.add_argument("--broker", required=True, help="mqtt://HOST:PORT (or mqtts://)")
    parser.add_argument("--inventory", required=True, help="GeoJSON FeatureCollection of lanterns")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="playback speed factor (50 = 50x faster)"
    )
    parser.add_argument(
        "--per-connection", type=int, default=500, help="lanterns per MQTT connection"
    )
    parser.add_argument("--root", default="lightctl", help="MQTT topic root")
    parser.add_argument("--limit", type=int, default=None, help="simulate only the first N")
    parser.add_argument(
        "--fetch-concurrency", type=int, default=32, help="clip downloads in flight per fleet"
    )
    parser.add_argument("--gateway-prefix", default="sim", help="gateway ids are PREFIX-00, ...")
    parser.add_argument(
        "--trust",
        default=None,
        help="trust list (`lightctl keys trust`, or <data_dir>/keys/trust.json): check signatures, "
        "re-read when the file changes. Without it commands are accepted unsigned (development)",
    )
    parser.add_argument(
        "--trust-root",
        default=None,
        help="the root key's public half the lanterns are provisioned with (*.pub.json of "
        "`lightctl keys root-generate`): every trust list must be signed by it. Default: "
        "root.pub.json beside the --trust file",
    )
    parser.add_argument(
        "--faults", default=None, help="faults to inject at start, e.g. 'offline=10@30%%;duplicate'"
    )
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="serve the control API on this port (bearer token: printed at start, or "
        f"${TOKEN_ENV})",
    )
    parser.add_argument("--control-host", default="127.0.0.1", help="control API address")
    parser.add_argument("--seed", type=int, default=0, help="seed of random faults")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    parser.add_argument(
        "--credentials",
        default=None,
        help="credentials.json of `lightctl mqtt credentials`: each gateway signs in by its id, "
        "each lantern signs its acks with its ack key",
    )
    parser.add_argument("--ca-file", default=None, help="CA of the broker's certificate (mqtts)")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="non-volatile memory of the lanterns (replay.PREFIX.json: the seqs each accepted, "
        "so no captured command plays twice, even after a restart). Without it that memory "
        "lasts only while this process runs",
    )
    parser.add_argument(
        "--protocol",
        type=int,
        choices=(1, 2),
        default=2,
        help="2 (default): also listen to the fan-out groups the service provisions and batch "
        "acks per gateway; 1: own cmd topics only, one ack per message",
    )
    parser.add_argument(
        "--no-projection-flash",
        action="store_true",
        help="simulate firmware from before projection flashing (issue 18): it does not list "
        "the feature in its state and refuses an envelope carrying `flash` (invalid_envelope)",
    )
    parser.add_argument(
        "--qos",
        type=int,
        choices=(0, 1),
        default=1,
        help="MQTT QoS of subscriptions and publishes: 1 (default); 0 on nats-server, whose "
        "QoS 1 costs a JetStream write per message and a consumer per subscription (the "
        "service, run with LIGHTCTL_MQTT_QOS=0, re-sends what a lantern did not confirm)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="split the inventory over this many processes (one event loop each; 100,000 "
        "lanterns need several on a 2-core machine); they share nothing but the broker",
    )
    # Set by the parent of --processes for each child: this process runs slice I of K.
    parser.add_argument("--shard", default=None, help=argparse.SUPPRESS)
    return parser


def _shard(text: str, specs: list[LanternSpec]) -> list[LanternSpec]:
    """Slice ``I/K`` of the inventory: contiguous, so a street mostly stays in one process."""
    index, count = (int(part) for part in text.split("/", 1))
    if not 0 <= index < count:
        raise ValueError(text)
    return specs[index * len(specs) // count : (index + 1) * len(specs) // count]


def _cpu_line(label: str, who: int, lanterns: int, wall_s: float) -> str:
    usage = resource.getrusage(who)
    cpu = usage.ru_utime + usage.ru_stime
    return f"firmware-sim {label}: cpu_s={cpu:.2f} lanterns={lanterns} wall_s={wall_s:.1f}\n"


def _supervise(argv: Sequence[str], processes: int, lanterns: int) -> int:
    """Run ``processes`` children, each on its slice; forward SIGINT/SIGTERM; print their CPU."""
    started = time.monotonic()
    children = [
        subprocess.Popen(
            # The last --processes wins in argparse: each child runs its slice in one process.
            [
                sys.executable,
                "-m",
                "firmware_sim",
                *argv,
                "--processes",
                "1",
                "--shard",
                f"{i}/{processes}",
            ]
        )
        for i in range(processes)
    ]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = [child.wait() for child in children]
    sys.stdout.write(
        _cpu_line(
            f"{processes} processes", resource.RUSAGE_CHILDREN, lanterns, time.monotonic() - started
        )
    )
    sys.stdout.flush()
    return max(codes, default=0)


def _credentials(path: str | None) -> tuple[dict[str, str] | None, dict[str, AckKey]]:
    """Gateway passwords and per-lantern ack keys of a credentials file (either may be absent,
    not both)."""
    if path is None:
        return None, {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    gateways = data.get("gateways")
    if gateways is not None and not isinstance(gateways, dict):
        raise ValueError(f"{path}: 'gateways' must map each gateway id to its password")
    keys = read_private(data["ack_keys"], path) if "ack_keys" in data else {}
    if gateways is None and not keys:
        raise ValueError(f"{path}: no 'gateways' passwords and no 'ack_keys'")
    passwords = {str(k): str(v) for k, v in gateways.items()} if gateways is not None else None
    return passwords, keys


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        BrokerAddress.parse(args.broker)
    except ValueError as exc:
        parser.error(str(exc))
    if args.speed <= 0:
        parser.error("--speed must be > 0")
    if args.per_connection < 1:
        parser.error("--per-connection must be >= 1")
    if args.fetch_concurrency < 1:
        parser.error("--fetch-concurrency must be >= 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    if not is_valid_lantern_id(args.root) or not is_valid_lantern_id(f"{args.gateway_prefix}-00"):
        parser.error("--root and --gateway-prefix may hold only letters, digits and . _ : -")
    try:
        specs = load_inventory(args.inventory)
    except InventoryError as exc:
        parser.error(str(exc))
    if args.limit is not None:
        specs = specs[: args.limit]
    if args.processes < 1:
        parser.error("--processes must be >= 1")
    if args.processes > 1:
        if args.control_port is not None:
            parser.error("--control-port needs --processes 1 (one fleet to control)")
        return _supervise(
            list(argv if argv is not None else sys.argv[1:]), args.processes, len(specs)
        )
    if args.shard is not None:
        try:
            specs = _shard(args.shard, specs)
        except ValueError:
            parser.error(f"--shard: {args.shard!r} is not I/K")
        # Each process has gateways (and replay memory) of its own.
        args.gateway_prefix = f"{args.gateway_prefix}.{args.shard.split('/')[0]}"
    if not specs:
        parser.error(f"{args.inventory}: no lanterns in the inventory")
    trust = None
    if args.trust is not None:
        trust_path = Path(args.trust)
        root_path = Path(args.trust_root) if args.trust_root else trust_path.with_name(ROOT_FILE)
        try:
            read_trust(trust_path)  # a missing or broken list is named before its root
            trust = TrustFile.open(trust_path, [read_root(root_path)])
        except TrustFileError as exc:
            parser.error(f"{exc}" if args.trust_root else f"{exc} (or give --trust-root)")
    else:
        log.warning("no --trust file: accepting unsigned commands (development only)")
    if args.faults is not None:
        try:
            for clause in parse_faults(args.faults):
                select(clause.selector, [spec.id for spec in specs])
        except FaultSpecError as exc:
            parser.error(f"--faults: {exc}")
    try:
        passwords, ack_keys = _credentials(args.credentials)
    except (OSError, ValueError) as exc:
        parser.error(f"--credentials: {exc}")
    if trust is not None and args.state_dir is None:
        log.warning("no --state-dir: replay memory is lost when this process stops")
    try:
        fleet = Fleet(
            args.broker,
            specs,
            speed=args.speed,
            per_connection=args.per_connection,
            topics=Topics(args.root),
            gateway_prefix=args.gateway_prefix,
            fetch_concurrency=args.fetch_concurrency,
            passwords=passwords,
            ca_file=args.ca_file,
            ack_keys=ack_keys,
            trust=trust,
            faults=args.faults,
            seed=args.seed,
            state_dir=Path(args.state_dir) if args.state_dir else None,
            protocol_version=args.protocol,
            projection_flash=not args.no_projection_flash,
            qos=args.qos,
        )
    except FlashError as exc:
        parser.error(f"--state-dir: {exc}")
    control = None
    if args.control_port is not None:
        given = os.environ.get(TOKEN_ENV, "").strip()
        if given and len(given) < MIN_TOKEN_CHARS:
            parser.error(f"${TOKEN_ENV}: at least {MIN_TOKEN_CHARS} characters")
        control = ControlServer(fleet, args.control_port, args.control_host, token=given or None)
    started = time.monotonic()
    asyncio.run(_run(fleet, control, announce_token=control is not None and not given))
    # What the simulator itself spent, so a benchmark tells the service's time from ours.
    label = f"shard {args.shard}" if args.shard else "1 process"
    sys.stdout.write(_cpu_line(label, resource.RUSAGE_SELF, len(specs), time.monotonic() - started))
    sys.stdout.flush()
    return 0


async def _run(
    fleet: Fleet, control: ControlServer | None = None, announce_token: bool = False
) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await fleet.start()
    if control is not None:
        await control.start()
        # On stdout, once, for the operator who started it (never in the log).
        where = f"http://{control.host}:{control.port}"
        said = f"token: {control.token}" if announce_token else f"token from ${TOKEN_ENV}"
        sys.stdout.write(f"control API on {where}; {said}\n")
        sys.stdout.flush()
    connected = asyncio.create_task(fleet.wait_connected(CONNECT_WARN_S))
    stop_requested = asyncio.create_task(stopping.wait())
    await asyncio.wait({connected, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
    if connected.done() and not connected.result():
        log.warning("not connected to the broker yet; retrying in the background")
    await stop_requested
    connected.cancel()
    log.info("stopping: publishing availability offline")
    if control is not None:
        await control.stop()
    await fleet.stop()


if __name__ == "__main__":
    sys.exit(main())
