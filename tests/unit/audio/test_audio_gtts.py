"""The gTTS adapter at its HTTP boundary: real gTTS request building, a fake Google behind it."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import requests
from gtts import gTTS

from lightctl.audio.gtts_engine import GttsSynthesizer, decode_response
from lightctl.errors import SynthesisFailed

Mp3 = Callable[..., bytes]


def batchexecute_body(*audio_parts: bytes) -> bytes:
    """A response shaped like Google's: an XSSI guard line, then one RPC line per audio part."""
    lines = [")]}'", ""]
    for audio in audio_parts:
        b64 = base64.b64encode(audio).decode("ascii")
        rpc = f'[["wrb.fr","jQ1olc","[\\"{b64}\\"]",null,null,null,"generic"],["di",51]]'
        lines += [str(len(rpc)), rpc]
    lines += ["25", '[["e",4,null,null,183]]']
    return "\n".join(lines).encode("utf-8")


def rpc_params(request: httpx.Request) -> list[Any]:
    """Text, language, speed of a gTTS request: f.req=[[["jQ1olc", "<json params>", ...]]]."""
    form = parse_qs(request.content.decode("utf-8"))
    rpc = json.loads(form["f.req"][0])
    assert rpc[0][0][0] == "jQ1olc"
    params: list[Any] = json.loads(rpc[0][0][1])
    return params


class FakeGoogle:
    """An ``httpx.MockTransport`` handler that records requests and answers as configured."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)

    def synthesizer(self, **kwargs: Any) -> GttsSynthesizer:
        client = httpx.Client(transport=httpx.MockTransport(self))
        return GttsSynthesizer(client=client, **kwargs)


def test_request_carries_text_and_language_and_mp3_is_decoded(make_mp3: Mp3) -> None:
    mp3 = make_mp3(125)  # 3.0 s
    google = FakeGoogle(lambda _r: httpx.Response(200, content=batchexecute_body(mp3)))
    rendered = google.synthesizer().render("Bitte verlassen Sie den Marktplatz", "de")

    assert (rendered.ext, rendered.engine, rendered.data) == ("mp3", "gtts", mp3)
    assert rendered.duration_s == pytest.approx(3.0)
    (request,) = google.requests
    assert request.method == "POST"
    assert request.url.host == "translate.google.com"
    assert request.url.path == "/_/TranslateWebserverUi/data/batchexecute"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    text, lang, *_ = rpc_params(request)
    assert text == "Bitte verlassen Sie den Marktplatz"
    assert lang == "de"


@pytest.mark.parametrize(("product", "google_code"), [("de-LS", "de"), ("uk", "uk"), ("ar", "ar")])
def test_product_languages_map_to_gtts_codes(make_mp3: Mp3, product: str, google_code: str) -> None:
    google = FakeGoogle(lambda _r: httpx.Response(200, content=batchexecute_body(make_mp3(10))))
    google.synthesizer().render("Увага مرحبا Achtung", product)
    assert rpc_params(google.requests[0])[1] == google_code


def test_long_text_is_split_by_gtts_and_parts_are_joined(make_mp3: Mp3) -> None:
    google = FakeGoogle(lambda _r: httpx.Response(200, content=batchexecute_body(make_mp3(50))))
    text = "Achtung, ein Gewitter zieht auf. " * 8  # 264 characters; gTTS sends ≤ 100 per request
    rendered = google.synthesizer().render(text, "de")
    assert len(google.requests) >= 3
    spoken = " ".join(rpc_params(r)[0] for r in google.requests)
    # gTTS's tokenizer cuts at punctuation and drops it; every word still goes out, in order.
    assert re.findall(r"\w+", spoken) == re.findall(r"\w+", text)
    assert rendered.duration_s == pytest.approx(len(google.requests) * 50 * 0.024)


def test_timeout_is_configurable_and_passed_to_the_transport(make_mp3: Mp3) -> None:
    google = FakeGoogle(lambda _r: httpx.Response(200, content=batchexecute_body(make_mp3(5))))
    google.synthesizer(timeout_s=2.5).render("Achtung", "de")
    google.synthesizer().render("Achtung", "de")
    first, default = (r.extensions["timeout"] for r in google.requests)
    assert first["read"] == first["connect"] == 2.5
    assert default["read"] == default["connect"] == 5.0


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def answer(_request: httpx.Request) -> httpx.Response:
        raise exc

    return answer


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda _r: httpx.Response(500), r"500 \(Internal Server Error\).*Upstream API error"),
        (lambda _r: httpx.Response(403), r"403 \(Forbidden\).*Bad token"),
        (_raise(httpx.ReadTimeout("slow")), r"no answer within 5 s \(ReadTimeout\)"),
        (_raise(httpx.ConnectError("unreachable")), r"request failed: ConnectError"),
        (lambda _r: httpx.Response(200, content=b""), "undecodable response: no audio"),
        (lambda _r: httpx.Response(200, content=b"<html>captcha</html>"), "no audio"),
        (
            lambda _r: httpx.Response(200, content=b'x jQ1olc",null,null]'),
            "names the TTS call but carries no audio",
        ),
        (lambda _r: httpx.Response(200, content=batchexecute_body(b"")), "no audio"),
        (
            lambda _r: httpx.Response(200, content=batchexecute_body(b"not an mp3 at all")),
            "not MP3 audio: no MPEG audio frames",
        ),
    ],
)
def test_failures_raise_synthesis_failed_with_reason(
    answer: Callable[[httpx.Request], httpx.Response], reason: str
) -> None:
    google = FakeGoogle(answer)
    with pytest.raises(SynthesisFailed, match=reason) as err:
        google.synthesizer().render("Achtung", "de")
    assert (err.value.engine, err.value.lang) == ("gtts", "de")
    assert len(google.requests) == 1


@pytest.mark.parametrize(("text", "lang"), [("", "de"), ("  ", "de"), ("Hallo", "xx")])
def test_nothing_is_sent_for_empty_text_or_unknown_language(text: str, lang: str) -> None:
    google = FakeGoogle(lambda _r: httpx.Response(200))
    with pytest.raises(SynthesisFailed):
        google.synthesizer().render(text, lang)
    assert google.requests == []


def test_supports_uses_gtts_language_table() -> None:
    synth = GttsSynthesizer()
    for lang in ("de", "de-LS", "en", "tr", "ar", "uk", "ru", "pl", "fr", "es", "it"):
        assert synth.supports(lang), lang
    assert not synth.supports("xx")
    assert not synth.supports("tlh")


def test_decoder_agrees_with_gtts_stream(make_mp3: Mp3, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins our decoder to gTTS's own: if gTTS changes its parsing, this test notices."""
    body = batchexecute_body(make_mp3(7))

    def fake_send(_session: requests.Session, request: Any, **_kw: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(body)
        response.request = request
        return response

    monkeypatch.setattr(requests.Session, "send", fake_send)
    theirs = b"".join(gTTS("Achtung", lang="de", lang_check=False).stream())
    assert theirs == make_mp3(7)
    assert decode_response(body) == theirs
