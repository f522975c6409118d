"""One root for every error Guji raises on purpose, and what it means at the two front doors.

Every error a person can act on is a :class:`GujiError`. Its class says what kind of problem it
is, and the kind decides the answer: the HTTP status (the web app's one exception handler answers
with it: JSON problem details for programs, a page for people) and the exit code (the CLI's one
handler exits with it). Anything else that escapes is a bug: the web answers 500, the CLI exits 70
and says where it logged the traceback.

========================  ======  =====  =====================================================
kind                      HTTP    exit   meaning
========================  ======  =====  =====================================================
GujiError                 500     1      could not be done (a kind of its own is better)
InvalidInput              400     2      an option, argument or parameter that cannot be used
Ambiguous (InvalidInput)  400     2      a reference that names several cards: use the card id
SettingError              500     2      a GUJI_* setting that cannot be used
Refused                   422     1      a file or card refused as it is; nothing was stored
Conflict                  409     1      someone changed it first, or it already exists / is busy
NotFound                  404     3      no such card, book, page, user …
Gone (NotFound)           410     3      withdrawn (撤销): kept, but no longer public
Forbidden                 403     1      not allowed for this account
Damaged                   500     4      stored data cannot be read as it should: run guji fixity
Unavailable               503     5      something needed is missing or busy (index, OCR engine, font)
========================  ======  =====  =====================================================

The message (``str(error)``) is what a person reads; it names the file, row, field or parameter
and what to do. ``english`` may carry an English form for the web's English interface.
"""

from __future__ import annotations

# Exit code of the CLI for an error that is not a GujiError: a bug (sysexits.h EX_SOFTWARE).
INTERNAL_EXIT_CODE = 70


class GujiError(Exception):
    """Something Guji could not do, and why (the message), for a person to act on."""

    status = 500  # HTTP status the web app answers with
    exit_code = 1  # exit code of the `guji` command
    title = "无法完成"  # short heading of the kind (problem details "title", the error page's heading)
    title_english = "Could not be done"
    slug = "error"  # problem type: /problems/<slug> describes it

    def __init__(self, message: str = "", *, english: str | None = None):
        super().__init__(message)
        self.english = english

    @property
    def notes(self) -> list[str]:
        """Further lines a person needs (each file a refusal names, each field of a conflict …)."""
        return []


class InvalidInput(GujiError):
    """An option, argument or request parameter that cannot be used as given."""

    status, exit_code, slug = 400, 2, "invalid-input"
    title, title_english = "请求有误", "Invalid input"


class Ambiguous(InvalidInput):
    """A reference (索书号, 普查编号 …) that names more than one card: name the card by its id."""

    slug = "ambiguous"
    title, title_english = "所指不止一张卡片", "Ambiguous reference"


class SettingError(GujiError):
    """A GUJI_* setting whose value cannot be used; the message names the variable."""

    status, exit_code, slug = 500, 2, "setting"
    title, title_english = "设置有误", "Invalid setting"


class Refused(GujiError):
    """A file, card or text refused as it is; nothing was stored."""

    status, exit_code, slug = 422, 1, "refused"
    title, title_english = "拒收，什么都没有保存", "Refused, nothing was stored"


class Conflict(GujiError):
    """Someone changed the object first, it exists already, or other work on it is running."""

    status, exit_code, slug = 409, 1, "conflict"
    title, title_english = "冲突", "Conflict"


class NotFound(GujiError):
    """No such card, book, page, version, user or collection."""

    status, exit_code, slug = 404, 3, "not-found"
    title, title_english = "未找到", "Not found"


class Gone(NotFound):
    """Withdrawn (撤销): kept in the repository, no longer part of the public collection."""

    status, slug = 410, "gone"
    title, title_english = "已撤销", "Withdrawn"


class Forbidden(GujiError):
    """Not allowed for the signed-in account."""

    status, exit_code, slug = 403, 1, "forbidden"
    title, title_english = "没有权限", "Forbidden"


class Damaged(GujiError):
    """Stored data cannot be read as it should (an unreadable inventory or card): run `guji fixity`."""

    status, exit_code, slug = 500, 4, "damaged"
    title, title_english = "存储的数据已损坏", "Stored data is damaged"


class Unavailable(GujiError):
    """Something the work needs is missing or busy: the search index, an OCR engine, a font."""

    status, exit_code, slug = 503, 5, "unavailable"
    title, title_english = "暂不可用", "Unavailable"


KINDS: tuple[type[GujiError], ...] = (GujiError, InvalidInput, Ambiguous, SettingError, Refused, Conflict, NotFound,
                                      Gone, Forbidden, Damaged, Unavailable)


def kind_of(error: GujiError) -> type[GujiError]:
    """The kind (one of KINDS) an error is, for its problem type."""
    return next(kind for kind in type(error).__mro__ if kind in KINDS)
