"""Staff outputs and interoperability: what leaves the repository.

* :mod:`repository.outputs.guide_cards` — guide cards (导卡) as PDF: ``print_guide_cards(catalogue, ids)``
* :mod:`repository.outputs.dossier` — 珍贵古籍名录 application dossier (DOCX/PDF) with pre-flight warnings
* :mod:`repository.outputs.register` — 登记目录 rows as XLSX
* :mod:`repository.outputs.mods`, :mod:`repository.outputs.dublin_core`, :mod:`repository.outputs.marc` —
  crosswalks from the card
* :mod:`repository.outputs.card_formats` — ``guji cards export --format mods|dc|marcxml|marc`` writers
* :mod:`repository.outputs.oai` — the OAI-PMH 2.0 data provider (``web/oai.py`` serves it at /oai)
* :mod:`repository.outputs.bag` — BagIt bags of any OCFL version
* :mod:`repository.outputs.safe_xml` — reading XML without DTDs/entities, and the shipped XML Schemas

Part of ``repository`` and, like it, imports none of ingest, iiif, search or web. Modules are imported where used,
so the CLI stays quick to start.
"""
