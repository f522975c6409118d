"""Withdrawing a card (撤销) and reinstating it (恢复) from its history page.

Both are a new version of the card with the reason typed (as ``guji cards withdraw REF --reason …
[--reinstate]``), based on the version the page showed: if someone saved meanwhile, nothing is
written and the page says so. A withdrawn card leaves the public site, search and IIIF; staff
still see and edit it here, marked 已撤销.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from guji.repository import CardConflict, Catalogue, local_time
from guji.repository.withdrawal import set_withdrawn

from .. import i18n
from ..dependencies import CatalogueDep
from ..params import whole_number
from .cards import REASON_FIELD, REASON_LIMIT
from .common import posted_form, refused_page
from .guard import StaffRoute, UserDep

router = APIRouter(route_class=StaffRoute)


def change(request: Request, catalogue: Catalogue, editor: str, form: FormData, card_id: str, withdrawn: bool):
    stored = catalogue.get(card_id)
    reason = str(form.get(REASON_FIELD) or "").strip()
    base = str(form.get("base_version") or "")
    if not reason or len(reason) > REASON_LIMIT:
        message = "请填写撤销原因（最多 {limit} 字）：它会记入修订记录" if withdrawn \
            else "请填写恢复原因（最多 {limit} 字）：它会记入修订记录"
        return refused_page(request, 400, message, limit=REASON_LIMIT)
    base_version = whole_number(base)
    if base_version is None or not 1 <= base_version <= stored.head:
        return refused_page(request, 400, "表单不完整（没有有效的基于版本），请重新打开修订记录页")
    try:
        result = set_withdrawn(catalogue, card_id, withdrawn, editor=editor, reason=reason,
                               base_version=base_version)
    except CardConflict as conflict:
        last = conflict.current.versions[-1]
        return refused_page(request, 409, "{editor} 已在 {time} 保存了 v{version}（{reason}）：什么都没有改动，"
                                          "请回到修订记录页核对后重试", editor=last.editor,
                            time=local_time.format_time(last.created, i18n.language_of(request)),
                            version=last.number, reason=last.reason)
    if not result.changed:
        return RedirectResponse(f"/staff/cards/{card_id}/history", status_code=303)
    return RedirectResponse(f"/staff/cards/{card_id}/history?saved={result.version}", status_code=303)


@router.post("/cards/{card_id}/withdraw")
def withdraw(request: Request, card_id: str, catalogue: CatalogueDep, user: UserDep,
             form: FormData = Depends(posted_form)):
    return change(request, catalogue, user.name, form, card_id, True)


@router.post("/cards/{card_id}/reinstate")
def reinstate(request: Request, card_id: str, catalogue: CatalogueDep, user: UserDep,
              form: FormData = Depends(posted_form)):
    return change(request, catalogue, user.name, form, card_id, False)

