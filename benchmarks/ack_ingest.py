"""What checking ack signatures costs the consumer (issue 13: acks you can trust).

Stores one audio command for N lanterns in SQLite, then applies received, playing and done from
every lantern through ``Consumer.apply`` in batches of 500 (as the consumer reads them), once
unsigned and once with every lantern keyed and signing (one Ed25519 verification per ack).

    python benchmarks/ack_ingest.py [--lanterns 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta

from lightctl.domain.records import Command
from lightctl.mqtt.consumer import BATCH, Consumer
from lightctl.mqtt.link import IncomingMessage
from lightctl.protocol import (
    Ack,
    AckStatus,
    AudioPayload,
    CommandEnvelope,
    SpeechItem,
    Topics,
)
from lightctl.security.ack_keys import AckKey
from lightctl.services.access.ack_trust import AckTrust
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lantern_keys as key_store
from lightctl.store import lanterns as lantern_store

NOW = datetime.now(UTC)
CLIPS = ["d" * 64, "e" * 64]


def command() -> CommandEnvelope:
    program = [
        SpeechItem(lang=lang, url=f"http://x/{sha}.wav", sha256=sha, duration_s=3)
        for lang, sha in zip(("de", "en"), CLIPS, strict=True)
    ]
    return CommandEnvelope(
        id="cmd-1",
        alert_id="al-1",
        channel="audio",
        op="set",
        priority=1,
        issued_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        payload=AudioPayload(program=program),
        seq=1,
    )


def run(n: int, signed: bool) -> float:
    db = Database(f"sqlite:///{tempfile.mkdtemp()}/acks.db")
    db.create_all()
    env = command()
    ids = [f"L{i}" for i in range(n)]
    keys = {i: AckKey.generate(i) for i in ids}
    with db.session() as session:
        lantern_store.upsert_lanterns(session, [{"id": i, "lon": 8.5, "lat": 47.3} for i in ids])
        row = Command(
            id=env.id,
            alert_id=env.alert_id,
            channel=env.channel,
            op=env.op,
            priority=env.priority,
            seq=env.seq,
            issued_at=env.issued_at,
            expires_at=env.expires_at,
            envelope=env.to_bytes().decode(),
        )
        alert_store.save_commands(session, "al-1", [(row, ids)], now=NOW)
        if signed:
            public = [key_store.LanternKey(i, k.kid, k.public.public_key) for i, k in keys.items()]
            key_store.add_keys(session, public, NOW)
    topics = Topics("bench")
    messages = []
    for status in (AckStatus.RECEIVED, AckStatus.PLAYING, AckStatus.DONE):
        for i in ids:
            played = CLIPS if status is AckStatus.DONE else None
            ack = Ack(cmd_id=env.id, lantern=i, status=status, at=NOW, played=played)
            ack = keys[i].sign(ack) if signed else ack
            messages.append(IncomingMessage(topics.ack(i), ack.to_bytes(), False))
    consumer = Consumer(db, asyncio.Queue(), topics, lambda: NOW, trust=AckTrust())
    start = time.perf_counter()
    for first in range(0, len(messages), BATCH):
        consumer.apply(messages[first : first + BATCH])
    elapsed = time.perf_counter() - start
    assert consumer.stats["ack_applied"] == len(messages), consumer.stats
    db.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanterns", type=int, default=3000)
    args = parser.parse_args()
    acks = 3 * args.lanterns
    for signed in (False, True):
        elapsed = run(args.lanterns, signed)
        kind = "signed  " if signed else "unsigned"
        print(f"{kind}: {acks} acks in {elapsed:.2f} s = {acks / elapsed:,.0f} acks/s")


if __name__ == "__main__":
    main()
