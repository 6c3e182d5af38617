"""Online speech through gTTS, with the HTTP transport injected so tests never need Google.

gTTS builds the requests (pre-processing, splitting into ≤100-character parts, RPC packaging,
headers, URL) via ``gTTS._prepare_requests()``; we send them with an ``httpx.Client`` the caller
may supply (tests pass one with ``httpx.MockTransport``). gTTS 2.5 decodes responses inline in
``gTTS.stream()``, which hard-wires its own ``requests.Session`` and disables TLS verification,
so ``decode_response`` repeats that parsing; a test pins it to ``gTTS.stream()``'s output.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from typing import Any

import httpx
from gtts import gTTS, gTTSError
from gtts.lang import tts_langs

from lightctl.audio.synth import Rendered
from lightctl.audio.wav import mp3_duration_s
from lightctl.errors import SynthesisFailed

log = logging.getLogger(__name__)

ENGINE = "gtts"
DEFAULT_TIMEOUT_S = 5.0  # Settings.tts_timeout_s default; a warning must not wait on Google

# Product language code → gTTS language code; easy German is spoken by the German voice.
LANGUAGES: dict[str, str] = {
    "de": "de",
    "de-LS": "de",
    "en": "en",
    "tr": "tr",
    "ar": "ar",
    "uk": "uk",
    "ru": "ru",
    "pl": "pl",
    "fr": "fr",
    "es": "es",
    "it": "it",
}

# The same pattern gTTS 2.5 applies to each response line carrying its RPC id.
_AUDIO = re.compile(r'jQ1olc","\[\\"(.*)\\"]')


def decode_response(body: bytes) -> bytes:
    """Audio bytes from one batchexecute response body; ``ValueError`` when there are none."""
    audio = b""
    for line in body.decode("utf-8", "replace").splitlines():
        if gTTS.GOOGLE_TTS_RPC not in line:
            continue
        match = _AUDIO.search(line)
        if match is None:
            raise ValueError("response names the TTS call but carries no audio")
        try:
            audio += base64.b64decode(match.group(1).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError(f"audio is not valid base64: {exc}") from exc
    if not audio:
        raise ValueError("no audio in response")
    return audio


class GttsSynthesizer:
    """Renders speech with Google Translate's voices; raises ``SynthesisFailed`` on any failure."""

    name = ENGINE

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.Client | None = None,
        tld: str = "com",
    ) -> None:
        self._timeout_s = timeout_s
        self._client = client
        self._tld = tld

    def supports(self, lang: str) -> bool:
        code = LANGUAGES.get(lang)
        # tts_langs() is a bundled table in gTTS ≥ 2.3: no network.
        return code is not None and code in tts_langs()

    def render(self, text: str, lang: str) -> Rendered:
        if not self.supports(lang):
            raise SynthesisFailed(lang, "gTTS has no voice for this language", ENGINE)
        if not text.strip():
            raise SynthesisFailed(lang, "empty text", ENGINE)
        tts = gTTS(
            text=text,
            lang=LANGUAGES[lang],
            tld=self._tld,
            lang_check=False,  # already checked above; the check would otherwise log and go on
            timeout=self._timeout_s,
        )
        try:
            prepared = tts._prepare_requests()
        except AssertionError as exc:  # gTTS asserts when pre-processing leaves nothing to say
            raise SynthesisFailed(lang, f"nothing to speak: {exc}", ENGINE) from exc
        if self._client is not None:
            audio = self._fetch_all(self._client, tts, prepared, lang)
        else:
            with httpx.Client() as client:
                audio = self._fetch_all(client, tts, prepared, lang)
        try:
            duration = mp3_duration_s(audio)
        except ValueError as exc:
            raise SynthesisFailed(lang, f"response is not MP3 audio: {exc}", ENGINE) from exc
        log.debug("gTTS rendered %s chars of %s in %s part(s)", len(text), lang, len(prepared))
        return Rendered(audio, "mp3", duration, ENGINE)

    def _fetch_all(self, client: httpx.Client, tts: gTTS, prepared: list[Any], lang: str) -> bytes:
        # Parts are fetched in order; the MP3s concatenate into one playable stream.
        return b"".join(self._fetch(client, tts, pr, lang) for pr in prepared)

    def _fetch(self, client: httpx.Client, tts: gTTS, prepared: Any, lang: str) -> bytes:
        body = prepared.body
        request = client.build_request(
            prepared.method,
            prepared.url,
            headers={k: v for k, v in prepared.headers.items() if k.lower() != "content-length"},
            content=body.encode("utf-8") if isinstance(body, str) else body,
            timeout=self._timeout_s,
        )
        try:
            response = client.send(request)
        except httpx.TimeoutException as exc:
            reason = f"no answer within {self._timeout_s:g} s ({type(exc).__name__})"
            raise SynthesisFailed(lang, reason, ENGINE) from exc
        except httpx.HTTPError as exc:
            reason = f"request failed: {type(exc).__name__}: {exc}"
            raise SynthesisFailed(lang, reason, ENGINE) from exc
        if response.status_code != 200:
            raise SynthesisFailed(lang, _status_reason(tts, response), ENGINE)
        try:
            return decode_response(response.content)
        except ValueError as exc:
            raise SynthesisFailed(lang, f"undecodable response: {exc}", ENGINE) from exc


class _StatusView:
    """The two fields of ``requests.Response`` that gTTS's error explanation reads."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.reason = response.reason_phrase


def _status_reason(tts: gTTS, response: httpx.Response) -> str:
    # gTTS knows what Google's statuses usually mean (403: bad token, 5xx: upstream error).
    return str(gTTSError(tts=tts, response=_StatusView(response)))
