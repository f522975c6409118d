"""Helpers shared by the outputs tests: the published XML Schemas (loaded here with lxml directly,
not through the product's loader), sample cards and a real server (the CLI: cli_support.py)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from functools import cache
from pathlib import Path

import httpx
from lxml import etree
from process_support import free_port

from guji.repository import Catalogue

ROOT = Path(__file__).resolve().parents[1]
XSD_DIR = ROOT / "metadata_schemas" / "xsd"
GUJI = Path(sys.executable).parent / "guji"
OAI = "http://www.openarchives.org/OAI/2.0/"
MODS = "http://www.loc.gov/mods/v3"
DC = "http://purl.org/dc/elements/1.1/"
NS = {"oai": OAI, "mods": MODS, "dc": DC, "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/"}


class _ByFileName(etree.Resolver):
    """Answer every schema import (http://www.loc.gov/mods/xml.xsd …) with the local file of that name."""

    def resolve(self, url, public_id, context):
        local = XSD_DIR / url.rsplit("/", 1)[-1]
        return self.resolve_filename(str(local), context) if local.is_file() else None


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_ByFileName())
    return parser


@cache
def xsd(name: str) -> etree.XMLSchema:
    """`mods`, `oai_dc`, or `oai`: OAI-PMH.xsd with its `<any>` wildcards made strict and oai_dc + MODS
    imported, so each record's metadata is validated against its own schema too."""
    if name == "mods":
        return etree.XMLSchema(etree.parse(str(XSD_DIR / "mods-3-6.xsd"), _parser()))
    if name == "oai_dc":
        return etree.XMLSchema(etree.parse(str(XSD_DIR / "oai_dc.xsd"), _parser()))
    text = (XSD_DIR / "OAI-PMH.xsd").read_text("utf-8").replace('processContents="skip"', 'processContents="strict"')
    imports = ('<import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" schemaLocation="oai_dc.xsd"/>'
               '<import namespace="http://www.loc.gov/mods/v3" schemaLocation="mods-3-6.xsd"/>')
    opening_end = text.index(">", text.index("<schema")) + 1
    text = text[:opening_end] + imports + text[opening_end:]
    document = etree.fromstring(text.encode(), _parser(), base_url=str(XSD_DIR / "OAI-PMH.xsd"))
    return etree.XMLSchema(document)


def assert_valid(document: bytes | etree._Element, name: str) -> etree._Element:
    root = etree.fromstring(document, etree.XMLParser(no_network=True, resolve_entities=False)) \
        if isinstance(document, bytes) else document
    schema = xsd(name)
    if not schema.validate(root):
        raise AssertionError(f"not valid {name}: " + "; ".join(str(e) for e in schema.error_log)[:2000])
    return root


# The expected outputs in these tests were worked out from these five sample cards; samples added
# later (七政推步 with its scans) are checked by the tests that take every sample (all_sample_cards).
PINNED_SAMPLES = ("maoshi-zhushu", "jingchuan-wenji", "lidai-shizuan-zuobian", "yingmeian-yiyu",
                  "pingyang-xianzhi-longqing")


def all_sample_cards() -> list[dict]:
    return json.loads((ROOT / "samples" / "cards.json").read_text("utf-8"))


def sample_cards() -> list[dict]:
    return [card for card in all_sample_cards() if card["id"] in PINNED_SAMPLES]


def more_cards(count: int) -> list[dict]:
    """`count` further cards made from the samples: new ids, 索书号 and 普查编号."""
    cards = []
    samples = sample_cards()
    for index in range(count):
        card = copy.deepcopy(samples[index % len(samples)])
        card["id"] = f"gen-{index:04d}"
        card["copy"]["call_number"] = f"測{index:04d}"
        card["copy"]["census_number"] = f"999999-0002-{index:07d}"
        card["copy"].pop("former_call_numbers", None)
        card["copy"].pop("lists", None)
        cards.append(card)
    return cards


def load(catalogue: Catalogue, cards: list[dict], created: datetime | None = None) -> None:
    for card in cards:
        catalogue.create(card, editor="测试员", reason="测试数据", created=created)



class Server:
    """`guji serve` in a subprocess on a free port, polled until it answers. A port taken by someone
    else between choosing and binding it (other test runs share the machine) means another try.
    Without the search indexer (`--no-indexer`): what is served here needs no search index."""

    def __init__(self, home: Path, env: dict | None = None, workers: int = 2, attempts: int = 3):
        for _ in range(attempts):
            if self._start(home, env or {}, workers):
                return
        raise AssertionError(f"guji serve did not start: {self.failure}")

    def _start(self, home: Path, env: dict, workers: int) -> bool:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "GUJI_HOME": str(home), "GUJI_PUBLIC_URL": self.url, **env}
        self.process = subprocess.Popen(
            [str(GUJI), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--no-indexer"],
            env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.failure = self.process.stderr.read().decode()[-2000:]
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                time.sleep(0.1)  # polling a starting server: there is nothing else to wait on
        self.stop()
        self.failure = "no answer on /healthz within 120 s"
        return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
