"""The staff workspace under /staff: sign-in, cataloguing, withdrawing cards, batch revision, printed
outputs (guide cards, 登记目录, dossiers), ingest and OCR jobs, a book's text and its 校对, audit log,
accounts. Every route requires a signed-in user (see :mod:`web.staff.guard`). The routers are module-level
``APIRouter`` objects gathered in :mod:`web.staff.workspace`, which web/app.py installs; this package
itself imports nothing, so that `guji users` (web/staff/commands.py) does not import the web app."""
