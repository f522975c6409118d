"""Staff outputs and interoperability: what leaves the repository.

* :mod:`outputs.guide_cards` — guide cards (导卡) as PDF: ``print_guide_cards(catalogue, ids)``
* :mod:`outputs.dossier` — 珍贵古籍名录 application dossier (DOCX/PDF) with pre-flight warnings
* :mod:`outputs.register` — 登记目录 rows as XLSX
* :mod:`outputs.mods`, :mod:`outputs.dublin_core`, :mod:`outputs.marc` — crosswalks from the card
* :mod:`outputs.card_formats` — ``guji cards export --format mods|dc|marcxml|marc`` writers
* :mod:`outputs.oai` — the OAI-PMH 2.0 data provider (``web/oai.py`` serves it at /oai)
* :mod:`outputs.bag` — BagIt bags of any OCFL version
* :mod:`outputs.safe_xml` — reading XML without DTDs/entities, and the shipped XML Schemas

Depends on ``repository`` only (``web → outputs → repository``). Modules are imported where used,
so the CLI stays quick to start.
"""
