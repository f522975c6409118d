"""责任说明 (statement of responsibility): who made the text, in which dynasty, in what way.

    （清）冒襄撰                          → 清 冒襄 撰 (wrote)
    （漢）毛亨傳（漢）鄭玄箋（唐）孔穎達疏  → 傳 commentary, 箋 sub-commentary, 疏 explication
    （明）王世貞撰；（明）陳繼儒校          → 校 collated
    （漢）毛亨,（漢）鄭玄,（唐）陸德明      → Kanripo `:_RESP:`: names only, no roles
    （清）楊受廷等修（清）馮汝楫等纂        → name 楊受廷等 ("楊受廷 and others"), role 修 (compiled,
                                            of a gazetteer); 等 stays with the name because it
                                            says who, not how
    （清）王念孫、王引之撰                  → two people sharing the dynasty and the role

The dynasty (or country, e.g. 日本) is whatever stands in the brackets, which may be （）, (), [],
〔〕 or 【】; it is None when no bracket is given. The role is the longest known role word at the end
of a name. Because many names end in a character that can also be a role (歐陽修, 周是修, 魏校),
a role is split off only if at least two characters of name remain and those are not a bare
two-character surname (歐陽, 司馬 …), and a lone 修 counts as a role only after 等 (楊受廷等修).
Pass ``roles=False`` for sources that never carry roles (Kanripo `_RESP`).
"""

from __future__ import annotations

import re

from .numerals import ParseError, unify_ideographs

__all__ = ["parse_responsibility", "format_responsibility", "ROLES"]

#: Role words (著作方式), longest first when matching. 敕/勅 = by imperial order.
ROLES: tuple[str, ...] = tuple(sorted({
    "撰", "著", "編", "编", "輯", "辑", "纂", "注", "註", "箋", "笺", "疏", "傳", "传", "校", "評", "评",
    "點", "点", "譯", "译", "述", "錄", "录", "繪", "绘", "書", "书", "訂", "订", "選", "选", "補", "补",
    "修", "纂修", "修纂", "集解", "音義", "音义", "輯注", "辑注", "輯註", "校注", "校註", "批點", "批点",
    "編次", "编次", "增訂", "增订", "重訂", "重订", "參訂", "参订", "訂補", "订补", "補注", "补注",
    "補亡", "补亡", "增補", "增补", "增修", "重修", "監修", "监修", "總纂", "总纂", "編纂", "编纂",
    "編輯", "编辑", "纂輯", "纂辑", "輯錄", "辑录", "輯評", "辑评", "輯校", "辑校", "校輯", "校辑",
    "編校", "编校", "校定", "校正", "校刊", "校勘", "校釋", "校释", "校點", "校点", "評點", "评点",
    "評選", "评选", "評注", "评注", "選評", "选评", "選注", "选注", "箋注", "笺注", "箋釋", "笺释",
    "注釋", "注释", "集注", "集註", "集說", "集说", "集傳", "集传", "章句", "正義", "正义", "考證",
    "考证", "辨說", "辨说", "彙集", "汇集", "彙編", "汇编", "廣要", "广要", "刪定", "删定", "刪訂",
    "删订", "句解", "講義", "讲义", "口義", "口义", "譯述", "译述", "鑒定", "鉴定", "同撰", "合撰",
    "敕撰", "勅撰", "奉敕撰", "奉勅撰", "奉敕編", "奉勅編", "奉敕纂", "奉勅纂", "御撰", "御定",
    "御纂", "欽定", "撰并注", "撰並注", "撰并書", "撰並書", "撰校勘記", "繪圖", "绘图",
}, key=lambda role: (-len(role), role)))

# A lone 修 is a role only after 等 (楊受廷等修); otherwise 歐陽修 would lose its 修.
_ROLE_NEEDS_DENG = {"修"}
_COMPOUND_SURNAMES = {
    "歐陽", "欧阳", "司馬", "司马", "諸葛", "诸葛", "上官", "皇甫", "東方", "东方", "夏侯", "令狐",
    "宇文", "長孫", "长孙", "慕容", "尉遲", "尉迟", "公孫", "公孙", "司徒", "司空", "端木", "獨孤",
    "独孤", "呼延", "澹臺", "澹台", "公羊", "穀梁", "谷梁", "聞人", "闻人", "東郭", "东郭", "鮮于", "鲜于",
}
_OPEN = "（([〔【［"
_CLOSE = "）)]〕】］"
_DYNASTY = re.compile(rf"[{re.escape(_OPEN)}]\s*([^{re.escape(_CLOSE)}]*?)\s*[{re.escape(_CLOSE)}]")
_SEPARATORS = re.compile(r"[,，;；/／\n]+")


def _split_role(name: str, roles: bool | None) -> tuple[str, str | None]:
    if roles is False:
        return name, None
    for role in ROLES:
        if not name.endswith(role):
            continue
        rest = name[: -len(role)]
        if role in _ROLE_NEEDS_DENG and not rest.endswith("等") and roles is not True:
            continue
        if len(rest) < 2 or (rest in _COMPOUND_SURNAMES and roles is not True):
            continue  # 魏校 is a name, not 魏 + 校; 歐陽修 is a name
        return rest, role
    return name, None


def _people(chunk: str, dynasty: str | None, roles: bool | None) -> list[dict]:
    """One bracket's worth of text: 冒襄撰, or 王念孫、王引之撰 (the role belongs to all)."""
    names = [part.strip() for part in re.split(r"[、]", chunk) if part.strip()]
    if not names:
        return []
    last_name, role = _split_role(names[-1], roles)
    people = [{"dynasty": dynasty, "name": name, "role": None} for name in names[:-1]]
    people.append({"dynasty": dynasty, "name": last_name, "role": role})
    if role is not None:
        for person in people[:-1]:
            own_name, own_role = _split_role(person["name"], roles)
            if own_role is None:
                person["role"] = role
            else:
                person.update(name=own_name, role=own_role)
    return people


def parse_responsibility(raw: str, *, roles: bool | None = None) -> list[dict]:
    """The people in a 责任说明, in order: ``[{"dynasty", "name", "role"}]``; see module docstring.

    `roles`: None reads roles where the rules above allow; False never splits a role off (names
    only, as in Kanripo `_RESP`); True splits any known role off, even from 歐陽修.
    """
    text = unify_ideographs((raw or "").strip())  # 余祐 with U+FA4F → 余祐
    if not text:
        raise ParseError("责任说明为空：请写成 （清）冒襄撰（empty statement of responsibility）", raw)
    # Cut the text into (dynasty, chunk) pieces at every bracket and every separator.
    people: list[dict] = []
    for segment in _SEPARATORS.split(text):
        segment = segment.strip()
        if not segment:
            continue
        position = 0
        dynasty: str | None = None
        brackets = list(_DYNASTY.finditer(segment))
        if not brackets:
            people.extend(_people(segment, None, roles))
            continue
        if brackets[0].start() > 0:  # text before the first bracket has no dynasty
            people.extend(_people(segment[: brackets[0].start()], None, roles))
        for index, bracket in enumerate(brackets):
            dynasty = bracket.group(1).strip() or None  # Kanripo （）闕名: no dynasty known
            position = bracket.end()
            end = brackets[index + 1].start() if index + 1 < len(brackets) else len(segment)
            chunk = segment[position:end].strip()
            if not chunk:
                raise ParseError(
                    f"责任说明「{raw}」中「{bracket.group(0)}」后面没有人名：请写成 （清）冒襄撰"
                    "（a dynasty with no name after it）",
                    raw,
                )
            people.extend(_people(chunk, dynasty, roles))
    if not people:
        raise ParseError(f"未能识别责任说明「{raw}」：请写成 （清）冒襄撰（could not read any name）", raw)
    for person in people:
        if any(ch in person["name"] for ch in _OPEN + _CLOSE):
            raise ParseError(
                f"责任说明「{raw}」的括号不成对：朝代请用一对括号，写成 （清）冒襄撰"
                "（unbalanced brackets）",
                raw,
            )
    return people


def format_responsibility(items: list[dict], separator: str = "") -> str:
    """`（清）冒襄撰` style text for a list of people; the inverse of :func:`parse_responsibility`.

    People are written one after another (（漢）毛亨傳（漢）鄭玄箋); `separator` (e.g. "；") goes
    between them. A person without a role is followed by "，" when someone comes after, so that
    the names stay apart.
    """
    parts: list[str] = []
    for index, person in enumerate(items):
        dynasty = person.get("dynasty")
        text = f"（{dynasty}）" if dynasty else ""
        text += f"{person.get('name') or ''}{person.get('role') or ''}"
        if index + 1 < len(items) and not person.get("role") and not separator:
            text += "，"
        parts.append(text)
    return separator.join(parts)
