"""The clip library: every template sentence on every lantern before the emergency (issue 14).

The service renders each approved template's sentences (every language; fixed sentences once
for the whole city as the ``common`` manifest, the sentences naming a street once per street
with the lanterns on it) and publishes them as retained, content-addressed manifests
(``<root>/v1/clips/<key>/manifest``), paced and only while no warning is going out. Lanterns
fetch what they lack in their own quiet times and report in their retained state which manifest
versions they hold completely. A template warning then needs no download at all; a changed
template changes a manifest's digest, and lanterns fetch only the clips that are new.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightctl.errors import LightctlError
from lightctl.protocol import ClipEntry, ClipManifest, LanternState, Topics
from lightctl.services.alerts.commands import EXERCISE_PHRASES
from lightctl.services.speech import Speaker, sentences
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from lightctl.templates import Template

log = logging.getLogger(__name__)

COMMON = "common"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# The outbox must have sent nothing for this long before a manifest goes out: a warning's
# commands and retries come first, and lanterns start fetching only after their own playback.
QUIET_S = 5.0
QUIET_POLL_S = 1.0
# GET /clips/library with the library switched off (``clip_library = false``).
EMPTY_LIBRARY: dict[str, Any] = {
    "enabled": False,
    "manifests": [],
    "incomplete": [],
    "incomplete_count": 0,
    "missing_reasons": {},
    "problems": {},
}


def street_manifest_key(street_key: str) -> str:
    """A topic level for a street (its key may hold spaces or umlauts): ``street.<12 hex>``."""
    return "street." + hashlib.sha256(street_key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Sentence:
    lang: str
    text: str


def _languages(template: Template, languages: Sequence[str], city: Sequence[str]) -> list[str]:
    """The languages held of a template: those asked for, else the city's and its defaults."""
    wanted = set(languages) if languages else {*city, *template.default_languages}
    return [lang for lang in template.text if lang in wanted]


def fixed_sentences(
    templates: Mapping[str, Template], languages: Sequence[str], city: Sequence[str] = ()
) -> list[Sentence]:
    """Sentences without a placeholder of every template (and each exercise notice)."""
    out: list[Sentence] = []
    held: set[str] = set()
    for template in templates.values():
        for lang in _languages(template, languages, city):
            held.add(lang)
            out += [Sentence(lang, s) for s in sentences(template.text[lang]) if "{" not in s]
    for lang, text in EXERCISE_PHRASES.items():
        if lang in held:
            out.append(Sentence(lang, text))
    return out


def street_sentences(
    templates: Mapping[str, Template],
    languages: Sequence[str],
    street: str,
    city: Sequence[str] = (),
) -> list[Sentence]:
    """Sentences whose only placeholder is ``{street}``, filled as an alert fills them."""
    out: list[Sentence] = []
    for template in templates.values():
        for lang in _languages(template, languages, city):
            for sentence in sentences(template.text[lang]):
                names = set(_PLACEHOLDER.findall(sentence))
                if names == {"street"}:
                    out.append(Sentence(lang, sentence.replace("{street}", street)))
    return out


class ClipLibrary:
    """Builds the manifests, publishes them in quiet times, and reads what lanterns hold."""

    def __init__(
        self,
        db: Database,
        speaker: Speaker,
        templates: Mapping[str, Template],
        topics: Topics,
        *,
        base_url: str,
        clip_size: Callable[[str, str], int],
        publish: Callable[[str, bytes], object],
        activity: Callable[[], int],
        reported: Callable[[], Mapping[str, LanternState]],
        languages: Sequence[str] = (),
        city_languages: Sequence[str] = (),
        only: Sequence[str] = (),
        pace_s: float = 0.5,
        quiet_s: float = QUIET_S,
    ) -> None:
        self._db = db
        self._speaker = speaker
        self._templates = {k: t for k, t in templates.items() if not only or k in only}
        self._topics = topics
        self._base = base_url
        self._clip_size = clip_size
        self._publish = publish
        self._activity = activity
        self._reported = reported
        self._languages = tuple(languages)
        self._city = tuple(city_languages)
        self._pace_s = pace_s
        self._quiet_s = quiet_s
        self._seen_activity: int | None = None
        self._active_at = time.monotonic()
        self.manifests: dict[str, ClipManifest] = {}
        self.stats: Counter[str] = Counter()
        self.published = False  # every manifest built and published

    # ---- building -----------------------------------------------------------------------------

    def entries(self, wanted: Iterable[Sentence]) -> list[ClipEntry]:
        """Rendered (or found in the speech cache) and described, in a stable order."""
        out: dict[str, ClipEntry] = {}
        for sentence in wanted:
            try:
                clip = self._speaker.clip(sentence.text, sentence.lang)
            except LightctlError as exc:  # the dispatcher sees it if this text is ever sent
                self.stats["render_failed"] += 1
                log.warning("clip library: cannot render %r: %s", sentence.text[:40], exc)
                continue
            out.setdefault(
                clip.sha256,
                ClipEntry(
                    sha256=clip.sha256,
                    url=f"{self._base}/api/v1/audio/{clip.sha256}.{clip.ext}",
                    size=self._clip_size(clip.sha256, clip.ext),
                    lang=clip.lang,
                    duration_s=round(clip.duration_s, 3),
                ),
            )
        return sorted(out.values(), key=lambda e: e.sha256)

    def manifest(
        self, key: str, wanted: Iterable[Sentence], lanterns: list[str] | None
    ) -> ClipManifest:
        entries = self.entries(wanted)
        digest = ClipManifest.digest_of(entries)
        ids = sorted(lanterns) if lanterns is not None else None
        return ClipManifest(key=key, digest=digest, entries=entries, lanterns=ids)

    def build(self) -> Iterable[ClipManifest]:
        """The common manifest first, then one per street (rendered as they are asked for)."""
        common = fixed_sentences(self._templates, self._languages, self._city)
        yield self.manifest(COMMON, common, None)
        with self._db.session() as session:
            names = lantern_store.street_names(session)
            on_street = lantern_store.ids_on_streets(session, list(names))
        for street_key, name in sorted(names.items()):
            wanted = street_sentences(self._templates, self._languages, name, self._city)
            ids = on_street.get(street_key, [])
            if wanted and ids:
                yield self.manifest(street_manifest_key(street_key), wanted, ids)

    # ---- publishing ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Build and publish every manifest, each in a quiet moment, then stay idle."""
        started = time.monotonic()
        manifests = iter(self.build())  # renders lazily: each step runs in a thread
        while True:
            # Quiet first, then render: a street's sentences take espeak a second or more of
            # CPU, which a warning going out (its signing, publishing, acks) needs more.
            await self._wait_quiet()
            manifest = await asyncio.to_thread(next, manifests, None)
            if manifest is None:
                break
            self._publish(self._topics.clip_manifest(manifest.key), manifest.to_bytes())
            self.manifests[manifest.key] = manifest
            self.stats["published"] += 1
            await asyncio.sleep(self._pace_s)
        self.published = True
        log.info(
            "clip library: %d manifests, %d clips published in %.1f s",
            len(self.manifests),
            sum(len(m.entries) for m in self.manifests.values()),
            time.monotonic() - started,
        )

    async def _wait_quiet(self) -> None:
        """Until the outbox has sent nothing for ``quiet_s`` (a warning's traffic comes first)."""
        while True:
            activity = self._activity()
            if activity != self._seen_activity:
                if self._seen_activity is not None:
                    self.stats["waited_for_warning"] += 1
                self._seen_activity, self._active_at = activity, time.monotonic()
            if time.monotonic() - self._active_at >= self._quiet_s:
                return
            await asyncio.sleep(min(QUIET_POLL_S, self._quiet_s))

    # ---- what lanterns hold -------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Per manifest: version, clips, bytes and how many of its lanterns hold it completely;
        the lanterns that lack clips, with the reasons they gave."""
        reported = self._reported()
        reasons: Counter[str] = Counter()
        problems: Counter[str] = Counter()
        incomplete: list[dict[str, Any]] = []
        holders: Counter[str] = Counter()
        for lantern_id, state in sorted(reported.items()):
            holding = state.clips
            if holding is None:
                continue
            for key, digest in holding.manifests.items():
                manifest = self.manifests.get(key)
                if manifest is not None and manifest.digest == digest:
                    holders[key] += 1
            if holding.problem:
                problems[holding.problem.split(":")[0]] += 1
            for missing in holding.missing:
                reasons[missing.reason] += 1
            if holding.missing_count or holding.problem:
                incomplete.append(
                    {
                        "lantern": lantern_id,
                        "missing": holding.missing_count,
                        "problem": holding.problem,
                        "reasons": sorted({m.reason for m in holding.missing}),
                    }
                )
        return {
            "published": self.published,
            "manifests": [
                {
                    "key": m.key,
                    "digest": m.digest,
                    "clips": len(m.entries),
                    "bytes": sum(e.size for e in m.entries),
                    "lanterns": len(m.lanterns) if m.lanterns is not None else None,
                    "complete": holders[m.key],
                }
                for m in self.manifests.values()
            ],
            "lanterns_reporting": sum(1 for s in reported.values() if s.clips is not None),
            "incomplete": incomplete[:200],
            "incomplete_count": len(incomplete),
            "missing_reasons": dict(reasons),
            "problems": dict(problems),
        }
