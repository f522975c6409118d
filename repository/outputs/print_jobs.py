"""Guide cards (导卡) printed by a worker of the shared job queue (``GUJI_QUEUE``).

`guji cards print` and the staff workspace's 打印导卡 check the selection where they are — no card,
no such card: refused before anything is queued, with the messages of the local commands — then
record a job (kind ``print``) whose one step, :func:`print_job`, any worker runs: the PDF of
:func:`~.guide_cards.print_guide_cards`, kept with the job in the catalogue DB
(repository/job_records.py, table ``job_outputs``; removed after seven days), so that the one who
asked downloads it from whichever web node, or the waiting command writes it where it was told.
The step may run again (a worker lost): the row is done once, with one file.
"""

from __future__ import annotations

import json

from guji.repository import Catalogue, GujiError, InvalidInput, local_time
from guji.repository.job_records import (
    active,
    fail,
    finish_with_output,
    progress_recorder,
    running,
    start_queued,
    worker_catalogue,
)

from .guide_cards import ALL_WITHDRAWN, print_guide_cards

KIND = "print"
STEP = "guji.repository.outputs.print_jobs.print_job"
PDF = "application/pdf"


def start_print(catalogue: Catalogue, card_ids: list[str] | None, actor: str) -> int:
    """Record a print job for `card_ids` (None: every card when the job runs) and queue it; returns its id."""
    return start_queued(catalogue, KIND, None, json.dumps({"ids": card_ids}, ensure_ascii=False), actor, STEP)


def file_names(stamp: str) -> tuple[str, str]:
    """The download's name (导卡-20240510.pdf) and its ASCII fallback, for the library's day `stamp`."""
    return f"导卡-{stamp}.pdf", f"guide-cards-{stamp}.pdf"


def print_job(job_id: int) -> None:
    with worker_catalogue() as catalogue:
        row = active(catalogue, job_id)
        if row is None:  # ended meanwhile (a retry of a finished step)
            return
        running(catalogue, row, "正在排版导卡…")
        card_ids = json.loads(row.source or "{}").get("ids")
        try:
            result = print_guide_cards(catalogue, card_ids, progress=progress_recorder(catalogue, job_id, "张"))
            stamp = local_time.file_stamp()
            finish_with_output(
                catalogue, job_id, file_names(stamp)[0], PDF, result.pdf,
                f"已打印 {result.cards} 张导卡，共 {result.sheets} 页 A4", done=result.cards, total=result.cards,
                result_json=json.dumps({"cards": result.cards, "sheets": result.sheets, "stamp": stamp,
                                        "warnings": result.warnings}, ensure_ascii=False))
        except InvalidInput:  # render_guide_cards: every chosen card withdrawn (or gone) by now
            fail(catalogue, job_id, InvalidInput(ALL_WITHDRAWN))
        except GujiError as error:  # a PDF over the size limit, a card that cannot be read …
            fail(catalogue, job_id, error)
