"""What naming the audience costs: one signed copy per lantern, signed by the service and
verified by each lantern (issue 13: the demo city's 3,533 lanterns, one warning's audio).

Signs the copies with ``CommandSigner.address`` as the outbox does, then lets 3,533 simulated
lanterns (one shared verifier, as one firmware-sim fleet) check and take their own copy; prints
the best of ``--runs`` for each side and, for comparison, as many bare Ed25519 signatures.

    python benchmarks/addressing.py [--lanterns 3533] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_sim.lantern import Lantern
from firmware_sim.verifier import TrustVerifier
from lightctl.protocol import AudioPayload, CommandEnvelope, SpeechItem, ToneItem
from lightctl.services.sequence import SequenceCounter
from lightctl.signing import CommandSigner, KeyStore


def warning(now: datetime) -> CommandEnvelope:
    """A two-language warning's audio command, as an alert stores it (~900 bytes a copy)."""
    clips = [
        SpeechItem(
            lang=lang, url=f"http://127.0.0.1:8000/audio/{h * 64}.wav", sha256=h * 64, duration_s=6
        )
        for lang, h in (("de", "a"), ("en", "b"))
    ]
    return CommandEnvelope(
        id="cmd_benchmark",
        alert_id="al_benchmark",
        role="dispatcher",
        channel="audio",
        op="set",
        priority=1,
        issued_at=now,
        expires_at=now + timedelta(minutes=30),
        payload=AudioPayload(program=[ToneItem(signal="warning", duration_s=5), *clips]),
        seq=SequenceCounter(0).next(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanterns", type=int, default=3533)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    keys = KeyStore.in_data_dir(Path(tempfile.mkdtemp(prefix="addressing-")))
    keys.ensure()
    signer = CommandSigner(keys, lambda: datetime.now(UTC), SequenceCounter(0).next)
    now = datetime.now(UTC)
    env = signer.sign(warning(now))
    ids = [f"LEU{100000 + i}" for i in range(args.lanterns)]
    audiences = [f"lanterns/{i}" for i in ids]

    signing: list[float] = []
    copies: dict[str, bytes] = {}
    for _ in range(args.runs):
        started = time.perf_counter()
        copies = signer.address(env, audiences)
        signing.append(time.perf_counter() - started)

    bare_key, body = Ed25519PrivateKey.generate(), b"x" * len(copies[audiences[0]])
    started = time.perf_counter()
    for _ in ids:
        bare_key.sign(body)
    bare = time.perf_counter() - started

    checking: list[float] = []
    for _ in range(args.runs):
        verifier = TrustVerifier(keys.trust_list(), [keys.ensure_root().public()])
        lanterns = [Lantern(i, verifier=verifier) for i in ids]
        started = time.perf_counter()
        for lantern in lanterns:
            lantern.handle(copies[lantern.audience], now)
        checking.append(time.perf_counter() - started)

    n = args.lanterns
    size = sum(map(len, copies.values())) / n
    print(f"{n} copies of {size:.0f} bytes, best of {args.runs}:")
    print(
        f"  service signs them:  {min(signing) * 1000:7.0f} ms ({min(signing) / n * 1e6:.0f} us "
        f"each; {bare * 1000:.0f} ms for {n} bare Ed25519 signatures)"
    )
    print(
        f"  lanterns check them: {min(checking) * 1000:7.0f} ms ({min(checking) / n * 1e6:.0f} us "
        "each: parse, audience, signature, take)"
    )


if __name__ == "__main__":
    main()
