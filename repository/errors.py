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
    public = False  # may the web show the message? not for server-side kinds: it may name server paths
    explanation = "请求没有完成；说明文字写明了原因。"
    explanation_english = "The request was not done; the detail says why."

    def __init__(self, message: str = "", *, english: str | None = None):
        super().__init__(message)
        self.english = english

    @property
    def notes(self) -> list[str]:
        """Further lines a person needs (each file a refusal names, each field of a conflict …)."""
        return []

    @property
    def extensions(self) -> dict:
        """Further members of the problem details a program can use (e.g. the refused `parameter`)."""
        return {}


class InvalidInput(GujiError):
    """An option, argument or request parameter that cannot be used as given."""

    status, exit_code, slug, public = 400, 2, "invalid-input", True
    title, title_english = "请求有误", "Invalid input"
    explanation = "某个参数或选项的值无法使用：说明文字写明是哪一个、应当怎样写。改正后重试。"
    explanation_english = "A parameter or option cannot be used as given; the detail names it and says what to write."


class Ambiguous(InvalidInput):
    """A reference (索书号, 普查编号 …) that names more than one card: name the card by its id."""

    slug = "ambiguous"
    title, title_english = "所指不止一张卡片", "Ambiguous reference"
    explanation = "所给的索书号、普查编号等对应多张卡片：请改用卡片标识符。"
    explanation_english = "The call number or census number given names several cards: use the card id."


class SettingError(GujiError):
    """A GUJI_* setting whose value cannot be used; the message names the variable."""

    status, exit_code, slug = 500, 2, "setting"
    title, title_english = "设置有误", "Invalid setting"
    explanation = "某个 GUJI_* 环境变量的值无法使用（见 docs/settings.md）：由管理员改正。"
    explanation_english = "A GUJI_* environment variable has a value that cannot be used (docs/settings.md)."


class Refused(GujiError):
    """A file, card or text refused as it is; nothing was stored."""

    status, exit_code, slug, public = 422, 1, "refused", True
    title, title_english = "拒收，什么都没有保存", "Refused, nothing was stored"
    explanation = "所交的文件、卡片或文本不能照原样接受，什么都没有保存；说明文字列出每个问题所在的文件、行或字段。"
    explanation_english = "The file, card or text cannot be accepted as it is and nothing was stored; the detail " \
        "names the file, row or field of each problem."


class Conflict(GujiError):
    """Someone changed the object first, it exists already, or other work on it is running."""

    status, exit_code, slug, public = 409, 1, "conflict", True
    title, title_english = "冲突", "Conflict"
    explanation = "别人已先保存了新的版本、同名的对象已经存在，或对同一本书的其他工作正在进行：核对后重试。"
    explanation_english = "Someone saved a newer version first, the object exists already, or other work on the " \
        "book is running: check and try again."


class NotFound(GujiError):
    """No such card, book, page, version, user or collection."""

    status, exit_code, slug, public = 404, 3, "not-found", True
    title, title_english = "未找到", "Not found"
    explanation = "没有这张卡片、这本书、这一页、这个版本或这个用户：请检查标识符。"
    explanation_english = "There is no such card, book, page, version or user: check the identifier."


class Gone(NotFound):
    """Withdrawn (撤销): kept in the repository, no longer part of the public collection."""

    status, slug = 410, "gone"
    title, title_english = "已撤销", "Withdrawn"
    explanation = "这条记录已撤销：仍保存在典藏中，但不再公开。"
    explanation_english = "The record was withdrawn: it is kept, but no longer public."


class Forbidden(GujiError):
    """Not allowed for the signed-in account."""

    status, exit_code, slug, public = 403, 1, "forbidden", True
    title, title_english = "没有权限", "Forbidden"
    explanation = "当前账号不能做这件事（例如只有管理员能管理账号和入藏）。"
    explanation_english = "The signed-in account may not do this (only administrators manage accounts and ingest)."


class Damaged(GujiError):
    """Stored data cannot be read as it should (an unreadable inventory or card): run `guji fixity`."""

    status, exit_code, slug = 500, 4, "damaged"
    title, title_english = "存储的数据已损坏", "Stored data is damaged"
    explanation = "存储的数据无法按应有的样子读取：管理员应运行 guji fixity，并从备份恢复损坏的对象。"
    explanation_english = "Stored data cannot be read as it should: an administrator runs guji fixity and " \
        "restores the damaged object from a backup."


class Unavailable(GujiError):
    """Something the work needs is missing or busy: the search index, an OCR engine, a font."""

    status, exit_code, slug = 503, 5, "unavailable"
    title, title_english = "暂不可用", "Unavailable"
    explanation = "所需的检索索引、识别引擎或字体暂时不可用：稍后再试，或请管理员查看服务器日志。"
    explanation_english = "The search index, OCR engine or font needed is not available now: try again later."


KINDS: tuple[type[GujiError], ...] = (GujiError, InvalidInput, Ambiguous, SettingError, Refused, Conflict, NotFound,
                                      Gone, Forbidden, Damaged, Unavailable)


def kind_of(error: GujiError) -> type[GujiError]:
    """The kind (one of KINDS) an error is, for its problem type."""
    return next(kind for kind in type(error).__mro__ if kind in KINDS)
