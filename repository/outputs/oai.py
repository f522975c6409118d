"""OAI-PMH 2.0 data provider: the six verbs over the catalogue, as XML bytes (the web router in
``web/oai.py`` only passes the request's arguments in and the bytes out).

* **Items** are cards; identifiers are ``oai:<host>:<id>`` with the host of ``public_url()``.
* **Formats**: ``oai_dc`` (:mod:`repository.outputs.dublin_core`) and ``mods``
  (:mod:`repository.outputs.mods`, MODS 3.6).
* **Datestamps** are the time of the card's head OCFL version (UTC, second granularity).
* **Sets**: ``guji`` (古籍), ``local`` (地方文献) and ``sibu:<部>[:<类>[:<属>]]`` for every class
  of the 四部 tree (``sibu:4:02:05`` = 集部/别集类/明别集之属); a record is in its class and
  every class above it. ``GUJI_OAI_SETS=off`` turns sets off (``noSetHierarchy``).
* **Deleted records** (``deletedRecord=persistent``): a card withdrawn with ``guji cards withdraw``
  (card ``status: withdrawn``, saved as a new version, never removed from OCFL) is reported with
  ``<header status="deleted">`` and the datestamp of the withdrawing version.
* **Paging**: ``GUJI_OAI_PAGE_SIZE`` records per response (default 100). A resumptionToken carries
  the request, the ``until`` frozen at the first page (one second before its responseDate, so
  nothing saved during the harvest can come twice) and the last (datestamp, id) delivered;
  the next page continues after that key. A card edited mid-harvest moves past the frozen
  ``until``, so no record is delivered twice or skipped while unchanged, and the edited one comes
  with the next incremental harvest (``from`` = this harvest's first responseDate). Tokens do not
  expire.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from lxml import etree
from sqlalchemy import and_, func, or_, select

from guji import metadata_schemas
from guji.repository import Catalogue, public_url
from guji.repository.catalogue_db import CardRow
from guji.repository.errors import InvalidInput
from guji.repository.settings import Settings

from .dublin_core import dc_element
from .mods import mods_element
from .safe_xml import MODS_NS, OAI_DC_NS, OAI_NS, SCHEMA_LOCATIONS
from .selection import CurrentCard

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
DEFAULT_PAGE_SIZE = 100

METADATA_FORMATS = {
    "oai_dc": (SCHEMA_LOCATIONS[OAI_DC_NS], OAI_DC_NS),
    "mods": (SCHEMA_LOCATIONS[MODS_NS], MODS_NS),
}
ARGUMENTS = {
    "Identify": set(),
    "ListMetadataFormats": {"identifier"},
    "ListSets": {"resumptionToken"},
    "GetRecord": {"identifier", "metadataPrefix"},
    "ListIdentifiers": {"metadataPrefix", "from", "until", "set", "resumptionToken"},
    "ListRecords": {"metadataPrefix", "from", "until", "set", "resumptionToken"},
}
REQUIRED = {"GetRecord": {"identifier", "metadataPrefix"}, "ListIdentifiers": {"metadataPrefix"},
            "ListRecords": {"metadataPrefix"}}
RECORD_TYPE_SETS = {"guji": ("guji", "古籍"), "local": ("local_document", "地方文献")}

# Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): an argument
# holding one can never name anything here, and echoing it would make the response unwritable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# the error an argument with such a character gets (OAI-PMH 2.0 §3.6: badArgument for illegal syntax,
# but an identifier is "unknown or illegal" and a token "invalid")
_ILLEGAL_VALUE = {"identifier": "idDoesNotExist", "resumptionToken": "badResumptionToken"}
# The syntax the OAI-PMH schema gives setSpec and metadataPrefix: a value outside it is a
# badArgument (echoing it in <request> would make the response invalid).
_SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(?::[A-Za-z0-9\-_.!~*'()]+)*")
_PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class OAIError(InvalidInput):
    """An OAI-PMH error condition (badArgument, idDoesNotExist …), answered in the protocol's own XML."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class OAISettings:
    page_size: int = DEFAULT_PAGE_SIZE
    repository_name: str = "Guji 古籍与地方文献数字化典藏"
    admin_email: str = ""
    sets: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> OAISettings:
        """``GUJI_OAI_PAGE_SIZE``, ``GUJI_OAI_REPOSITORY_NAME``, ``GUJI_OAI_ADMIN_EMAIL``, ``GUJI_OAI_SETS``."""
        return cls(page_size=settings.oai_page_size, repository_name=settings.oai_repository_name,
                   admin_email=settings.oai_admin_email, sets=settings.oai_sets)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def repository_host() -> str:
    return urlsplit(public_url()).hostname or "localhost"


def oai_identifier(card_id: str) -> str:
    return f"oai:{repository_host()}:{card_id}"


def base_url() -> str:
    return f"{public_url()}/oai"


# ---- sets ---------------------------------------------------------------------------------


def set_spec_of_code(code: str) -> str:
    return "sibu:" + code.replace(".", ":")


def code_of_set_spec(spec: str) -> str | None:
    if not spec.startswith("sibu:"):
        return None
    code = spec[len("sibu:"):].replace(":", ".")
    return code if metadata_schemas.classification_by_code(code) else None


def all_sets() -> list[tuple[str, str]]:
    """(setSpec, setName) for every set, in tree order."""
    found = [(spec, name) for spec, (_, name) in RECORD_TYPE_SETS.items()]

    def walk(nodes: list[dict], path: tuple[str, ...]) -> None:
        for node in nodes:
            names = (*path, node["name"])
            found.append((set_spec_of_code(node["code"]), "四部分类：" + "/".join(names)))
            walk(node.get("children", []), names)

    walk(metadata_schemas.classification_tree(), ())
    return found


def sets_of(record_type: str, code: str | None) -> list[str]:
    specs = [spec for spec, (kind, _) in RECORD_TYPE_SETS.items() if kind == record_type]
    if code and metadata_schemas.classification_by_code(code):
        parts = code.split(".")
        specs.extend(set_spec_of_code(".".join(parts[: depth + 1])) for depth in range(len(parts)))
    return specs


# ---- resumption tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class ListRequest:
    prefix: str
    set_spec: str | None
    since: str | None  # inclusive lower bound, seconds granularity
    until: str  # inclusive upper bound, frozen at the first page
    after: tuple[str, str] | None = None  # (datestamp, id) of the last record delivered
    cursor: int = 0

    def token(self, after: tuple[str, str], cursor: int) -> str:
        data = {"p": self.prefix, "s": self.set_spec, "f": self.since, "u": self.until, "d": after[0],
                "i": after[1], "c": cursor}
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> ListRequest:
        bad = OAIError("badResumptionToken", f"the resumptionToken {token[:40]!r} is not one this repository "
                                             "issued (or was cut short); start the list again without it")
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,2000}", token):
            raise bad
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            request = cls(prefix=data["p"], set_spec=data["s"], since=data["f"], until=data["u"],
                          after=(data["d"], data["i"]), cursor=int(data["c"]))
        except (ValueError, KeyError, TypeError):
            raise bad from None
        texts_ok = all(isinstance(value, str) and _SECOND.match(value) for value in (request.until, request.after[0]))
        if (request.prefix not in METADATA_FORMATS or not texts_ok or request.cursor < 0
                or not isinstance(request.after[1], str)
                or (request.since is not None and not (isinstance(request.since, str) and _SECOND.match(request.since)))
                or (request.set_spec is not None and not isinstance(request.set_spec, str))):
            raise bad
        return request


def _parse_datestamp(name: str, value: str, *, end_of_day: bool) -> tuple[str, str]:
    """(seconds-granularity value, granularity) of a from/until argument."""
    if _DAY.match(value):
        granularity, full = "day", value + ("T23:59:59Z" if end_of_day else "T00:00:00Z")
    elif _SECOND.match(value):
        granularity, full = "second", value
    else:
        raise OAIError("badArgument", f"{name}={value!r} is not a UTC datestamp: use YYYY-MM-DD or "
                                      "YYYY-MM-DDThh:mm:ssZ")
    try:
        datetime.strptime(full, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise OAIError("badArgument", f"{name}={value!r} is not a real date/time") from None
    return full, granularity


# ---- the repository -------------------------------------------------------------------------


class OAIRepository:
    """Answers OAI-PMH requests for one catalogue."""

    def __init__(self, catalogue: Catalogue, settings: OAISettings | None = None):
        self.catalogue = catalogue
        self.settings = settings or OAISettings.from_settings(catalogue.settings)

    def respond(self, arguments: Iterable[tuple[str, str]], now: datetime | None = None) -> bytes:
        """The response document for one request (``arguments``: the query/form pairs, in order)."""
        now = (now or utc_now()).replace(microsecond=0)
        arguments = list(arguments)
        root = etree.Element(f"{{{OAI_NS}}}OAI-PMH", nsmap={None: OAI_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {SCHEMA_LOCATIONS[OAI_NS]}")
        etree.SubElement(root, f"{{{OAI_NS}}}responseDate").text = stamp(now)
        request = etree.SubElement(root, f"{{{OAI_NS}}}request")
        request.text = base_url()
        try:
            verb, values = self._check(arguments)
            for key, value in values.items():
                request.set(key, value)
            request.set("verb", verb)
            getattr(self, f"_{verb}")(root, values, now)
        except OAIError as error:
            if error.code in ("badVerb", "badArgument"):
                request.attrib.clear()  # the spec: echo only the base URL after these two
            for child in list(root)[2:]:
                root.remove(child)
            element = etree.SubElement(root, f"{{{OAI_NS}}}error", code=error.code)
            element.text = _NOT_XML.sub("\ufffd", error.message)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    # ---- request checks -----------------------------------------------------------------

    @staticmethod
    def _check(arguments: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        verbs = [value for key, value in arguments if key == "verb"]
        if not verbs:
            raise OAIError("badVerb", "no verb: add verb=Identify, ListRecords, … to the request")
        if len(verbs) > 1:
            raise OAIError("badVerb", "the verb argument is repeated; give exactly one")
        verb = verbs[0]
        if verb not in ARGUMENTS:
            raise OAIError("badVerb", f"{verb!r} is not an OAI-PMH verb: use one of {', '.join(ARGUMENTS)}")
        values: dict[str, str] = {}
        for key, value in arguments:
            if key == "verb":
                continue
            if key not in ARGUMENTS[verb]:
                raise OAIError("badArgument", f"{verb} does not take the argument {key!r}")
            if key in values:
                raise OAIError("badArgument", f"the argument {key!r} is repeated")
            illegal = _NOT_XML.search(value)
            if illegal:
                raise OAIError(_ILLEGAL_VALUE.get(key, "badArgument"),
                               f"the {key} argument holds U+{ord(illegal.group()):04X}, a character no {key} "
                               "here can contain (a control character?): check how the request was encoded")
            values[key] = value
        if "resumptionToken" in values:
            if len(values) > 1:
                raise OAIError("badArgument", "resumptionToken is an exclusive argument: send it alone with the verb")
            return verb, values
        if "set" in values and not _SET_SPEC.fullmatch(values["set"]):
            raise OAIError("badArgument", f"set={values['set']!r} is not a setSpec (letters, digits and -_.!~*'() "
                                          "in parts joined by ':', e.g. sibu:4:02); see verb=ListSets")
        if "metadataPrefix" in values and not _PREFIX.fullmatch(values["metadataPrefix"]):
            raise OAIError("badArgument", f"metadataPrefix={values['metadataPrefix']!r} is not a metadata prefix: "
                                          f"use {' or '.join(METADATA_FORMATS)}")
        missing = sorted(REQUIRED.get(verb, set()) - set(values))
        if missing:
            raise OAIError("badArgument", f"{verb} needs the argument(s) {', '.join(missing)}")
        return verb, values

    def _card_id(self, identifier: str) -> str:
        prefix = f"oai:{repository_host()}:"
        card_id = identifier[len(prefix):] if identifier.startswith(prefix) else None
        if not card_id:
            raise OAIError("idDoesNotExist", f"{identifier!r} is not an identifier of this repository "
                                             f"(they look like {oai_identifier('ID')})")
        with self.catalogue.sessions() as session:
            if session.get(CardRow, card_id) is None:
                raise OAIError("idDoesNotExist", f"no record {identifier!r} in this repository")
        return card_id

    @staticmethod
    def _check_prefix(prefix: str) -> None:
        if prefix not in METADATA_FORMATS:
            raise OAIError("cannotDisseminateFormat",
                           f"metadataPrefix {prefix!r} is not offered: use {' or '.join(METADATA_FORMATS)}")

    # ---- verbs ----------------------------------------------------------------------------

    def _Identify(self, root: etree._Element, values: dict, now: datetime) -> None:
        with self.catalogue.sessions() as session:
            earliest = session.scalar(select(func.min(CardRow.updated))) or stamp(now)
        identify = etree.SubElement(root, f"{{{OAI_NS}}}Identify")
        email = self.settings.admin_email or f"oai-admin@{repository_host()}"
        for name, text in (("repositoryName", self.settings.repository_name), ("baseURL", base_url()),
                           ("protocolVersion", "2.0"), ("adminEmail", email), ("earliestDatestamp", earliest),
                           ("deletedRecord", "persistent"), ("granularity", GRANULARITY)):
            etree.SubElement(identify, f"{{{OAI_NS}}}{name}").text = text

    def _ListMetadataFormats(self, root: etree._Element, values: dict, now: datetime) -> None:
        if "identifier" in values:
            card_id = self._card_id(values["identifier"])
            if self._current(card_id).withdrawn:
                raise OAIError("noMetadataFormats", f"{values['identifier']} was withdrawn (a deleted record): "
                                                    "no metadata is disseminated for it")
        formats = etree.SubElement(root, f"{{{OAI_NS}}}ListMetadataFormats")
        for prefix, (schema, namespace) in METADATA_FORMATS.items():
            element = etree.SubElement(formats, f"{{{OAI_NS}}}metadataFormat")
            etree.SubElement(element, f"{{{OAI_NS}}}metadataPrefix").text = prefix
            etree.SubElement(element, f"{{{OAI_NS}}}schema").text = schema
            etree.SubElement(element, f"{{{OAI_NS}}}metadataNamespace").text = namespace

    def _ListSets(self, root: etree._Element, values: dict, now: datetime) -> None:
        if not self.settings.sets:
            raise OAIError("noSetHierarchy", "this repository does not offer sets (GUJI_OAI_SETS=off)")
        if "resumptionToken" in values:
            raise OAIError("badResumptionToken", "ListSets is answered in one response; this repository never "
                                                 "issued a resumptionToken for it")
        sets = etree.SubElement(root, f"{{{OAI_NS}}}ListSets")
        for spec, name in all_sets():
            element = etree.SubElement(sets, f"{{{OAI_NS}}}set")
            etree.SubElement(element, f"{{{OAI_NS}}}setSpec").text = spec
            etree.SubElement(element, f"{{{OAI_NS}}}setName").text = name

    def _GetRecord(self, root: etree._Element, values: dict, now: datetime) -> None:
        self._check_prefix(values["metadataPrefix"])
        card_id = self._card_id(values["identifier"])
        with self.catalogue.sessions() as session:
            row = session.get(CardRow, card_id)
            record = self._record_element(row, values["metadataPrefix"])
        etree.SubElement(root, f"{{{OAI_NS}}}GetRecord").append(record)

    def _ListIdentifiers(self, root: etree._Element, values: dict, now: datetime) -> None:
        self._list(root, values, now, headers_only=True)

    def _ListRecords(self, root: etree._Element, values: dict, now: datetime) -> None:
        self._list(root, values, now, headers_only=False)

    # ---- lists ----------------------------------------------------------------------------

    def _list_request(self, values: dict, now: datetime) -> ListRequest:
        if "resumptionToken" in values:
            request = ListRequest.from_token(values["resumptionToken"])
        else:
            self._check_prefix(values["metadataPrefix"])
            since = until = None
            granularities = set()
            if "from" in values:
                since, granularity = _parse_datestamp("from", values["from"], end_of_day=False)
                granularities.add(granularity)
            if "until" in values:
                until, granularity = _parse_datestamp("until", values["until"], end_of_day=True)
                granularities.add(granularity)
            if len(granularities) > 1:
                raise OAIError("badArgument", "from and until must have the same granularity (both days or both "
                                              "seconds)")
            if since and until and since > until:
                raise OAIError("badArgument", f"from={values['from']} is later than until={values['until']}")
            # Freeze the list at the second before this response: a record saved in this very second or
            # later belongs to the next harvest (from = this responseDate), never to this one twice.
            latest = stamp(now - timedelta(seconds=1))
            request = ListRequest(values["metadataPrefix"], values.get("set"), since, min(until or latest, latest))
        if request.set_spec is not None and not self.settings.sets:
            raise OAIError("noSetHierarchy", "this repository does not offer sets (GUJI_OAI_SETS=off)")
        return request

    @staticmethod
    def _conditions(request: ListRequest) -> list:
        conditions = [CardRow.updated <= request.until]
        if request.since:
            conditions.append(CardRow.updated >= request.since)
        spec = request.set_spec
        if spec is not None:
            if spec in RECORD_TYPE_SETS:
                conditions.append(CardRow.record_type == RECORD_TYPE_SETS[spec][0])
            else:
                code = code_of_set_spec(spec)
                if code is None:
                    raise OAIError("noRecordsMatch", f"there is no set {spec!r}: see verb=ListSets")
                conditions.append(or_(CardRow.classification_code == code,
                                      CardRow.classification_code.like(code + ".%")))
        return conditions

    def _list(self, root: etree._Element, values: dict, now: datetime, *, headers_only: bool) -> None:
        request = self._list_request(values, now)
        conditions = self._conditions(request)
        page = list(conditions)
        if request.after:
            after_stamp, after_id = request.after
            page.append(or_(CardRow.updated > after_stamp, and_(CardRow.updated == after_stamp,
                                                                 CardRow.id > after_id)))
        size = self.settings.page_size
        with self.catalogue.sessions() as session:
            rows = list(session.scalars(select(CardRow).where(*page).order_by(CardRow.updated, CardRow.id)
                                        .limit(size + 1)))
            if not rows and request.cursor == 0:
                raise OAIError("noRecordsMatch", "no records match this request (its set, from and until)")
            if not rows:  # every record still to come was edited since the previous page
                raise OAIError("noRecordsMatch", f"the rest of this list changed after the previous page; "
                                                 f"harvest again with from={request.until}")
            total = session.scalar(select(func.count()).select_from(CardRow).where(*conditions))
            more = len(rows) > size
            rows = rows[:size]
            container = etree.SubElement(root, f"{{{OAI_NS}}}{'ListIdentifiers' if headers_only else 'ListRecords'}")
            for row in rows:
                container.append(self._header(row) if headers_only else self._record_element(row, request.prefix))
        if more or request.after:
            token = etree.SubElement(container, f"{{{OAI_NS}}}resumptionToken",
                                     completeListSize=str(max(total, request.cursor + len(rows))),
                                     cursor=str(request.cursor))
            if more:
                token.text = request.token((rows[-1].updated, rows[-1].id), request.cursor + len(rows))

    # ---- records ----------------------------------------------------------------------------

    def _current(self, card_id: str) -> CurrentCard:
        with self.catalogue.sessions() as session:
            row = session.get(CardRow, card_id)
            return CurrentCard(row.id, row.head_version, row.updated, json.loads(row.card_json))

    def _header(self, row: CardRow) -> etree._Element:
        card = json.loads(row.card_json)
        header = etree.Element(f"{{{OAI_NS}}}header")
        if card.get("status") == "withdrawn":
            header.set("status", "deleted")
        etree.SubElement(header, f"{{{OAI_NS}}}identifier").text = oai_identifier(row.id)
        etree.SubElement(header, f"{{{OAI_NS}}}datestamp").text = row.updated
        if self.settings.sets:
            for spec in sets_of(row.record_type, row.classification_code):
                etree.SubElement(header, f"{{{OAI_NS}}}setSpec").text = spec
        return header

    def _record_element(self, row: CardRow, prefix: str) -> etree._Element:
        record = etree.Element(f"{{{OAI_NS}}}record")
        header = self._header(row)
        record.append(header)
        if header.get("status") != "deleted":
            current = CurrentCard(row.id, row.head_version, row.updated, json.loads(row.card_json))
            metadata = etree.SubElement(record, f"{{{OAI_NS}}}metadata")
            metadata.append(dc_element(current) if prefix == "oai_dc" else mods_element(current))
        return record
