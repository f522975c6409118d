"""CLI of the outputs package (assembled in web/cli.py):

``guji cards print | register | withdraw``, ``guji dossier``, ``guji dossier-round``, ``guji export bag``,
``guji validate-xml``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from guji.repository.cli import EditorOption, console, editor_of, errors, one_of, open_catalogue, progress, warn
from guji.repository.errors import InvalidInput

IdsOption = typer.Option(None, "--ids", help="卡片：标识符、索书号或普查编号，逗号分隔，也可重复。")


def _warn(messages: list[str], prefix: str = "") -> None:
    for message in messages:
        warn(f"{prefix}{message}")


commands = typer.Typer()

cards_app = typer.Typer(no_args_is_help=True)
commands.add_typer(cards_app, name="cards")
export_app = typer.Typer(help="移交包：把 OCFL 版本打成 BagIt 包。", no_args_is_help=True)
commands.add_typer(export_app, name="export")


@cards_app.command("print")
def cards_print(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", "-o", help="写出的 PDF 文件，如 cards.pdf。"),
    ids: list[str] = IdsOption,
    changed_since: str = typer.Option(None, "--changed-since",
                                      help="只打印 DATE 以后 card.json 有改动的卡片（2024-05-10 或 ISO 时间）。"),
    here: bool = typer.Option(False, "--here", help="在本机排版，即使设置了任务队列 GUJI_QUEUE。"),
) -> None:
    """按索书号打印导卡（PDF）。

    导卡 12.5 × 7.5 cm，每张 A4 纸四张，带裁切线。设置了 GUJI_QUEUE 时由工作机排版，本命令等它完成再写出文件。"""
    from .guide_cards import print_guide_cards
    from .selection import parse_since, select_cards, split_references

    with open_catalogue(ctx) as catalogue:
        since = parse_since(changed_since) if changed_since else None
        references = split_references(ids)
        card_ids = select_cards(catalogue, references, since)
        if not card_ids:
            errors.print("没有要打印的卡片" + (f"：{changed_since} 以来没有修改过著录的卡片" if since else ""),
                         highlight=False)
            raise typer.Exit(1)
        if catalogue.settings.queue_url and not here:
            _print_on_queue(ctx, catalogue, card_ids if references or since else None, output)
            return
        with progress("打印导卡", "张") as update:
            result = print_guide_cards(catalogue, card_ids, output=output, progress=update)
        _warn(result.warnings)
        console.print(f"已打印 {result.cards} 张导卡，共 {result.sheets} 页 A4：{output}", highlight=False)


def _print_on_queue(ctx: typer.Context, catalogue, card_ids: list[str] | None, output: Path) -> None:
    """A worker prints them (None: every card); waits, then writes its PDF to `output`."""
    import json

    from guji.repository import atomic_files
    from guji.repository.job_records import output_of, wait

    from .print_jobs import start_print

    job_id = start_print(catalogue, card_ids, editor_of(ctx, None))
    row = wait(catalogue, job_id, f"打印导卡（任务 #{job_id}）", "张", f"/staff/outputs/jobs/{job_id}")
    stored = output_of(catalogue, job_id)
    if stored is None:
        errors.print(f"任务 #{job_id} 的导卡已不在（保留期已过）：请重新打印", highlight=False)
        raise typer.Exit(1)
    atomic_files.write_bytes(output, stored.data)
    result = json.loads(row.result_json or "{}")
    _warn(result.get("warnings") or [])
    console.print(f"已打印 {result.get('cards')} 张导卡，共 {result.get('sheets')} 页 A4：{output}"
                  f"（任务 #{job_id}）", highlight=False)


@cards_app.command("register")
def cards_register(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", "-o", help="写出的 XLSX 文件，如 登记目录.xlsx。"),
    ids: list[str] = IdsOption,
) -> None:
    """生成登记目录（XLSX）。

    各列：普查编号、索书号、题名卷数、著者、版本、册数、存缺卷数。"""
    from .register import write_register
    from .selection import resolve_references, split_references

    with open_catalogue(ctx) as catalogue:
        references = split_references(ids)
        count = write_register(catalogue, output, resolve_references(catalogue, references) if references else None)
        console.print(f"登记目录 {count} 条，已写入 {output}", highlight=False)


@cards_app.command("withdraw")
def cards_withdraw(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="卡片标识符、索书号或普查编号。"),
    reason: str = typer.Option(..., "--reason", "-r", help="撤销原因（记入修改历史）。"),
    reinstate: bool = typer.Option(False, "--reinstate", help="恢复：让已撤销的卡片重新生效。"),
    editor: str = EditorOption,
) -> None:
    """撤销卡片，或用 --reinstate 恢复。

    撤销的卡片仍保存在 OCFL 中，但不再出现在公共网站、检索和 IIIF 中；OAI-PMH 把它报为已删除。"""
    from guji.repository.withdrawal import set_withdrawn

    with open_catalogue(ctx) as catalogue:
        card_id = catalogue.resolve(reference)
        result = set_withdrawn(catalogue, card_id, not reinstate, editor=editor_of(ctx, editor),
                               reason=reason)
        state = "恢复" if reinstate else "撤销"
        if result.changed:
            console.print(f"{card_id} 已{state}（第 {result.version} 版）", highlight=False)
        else:
            console.print(f"{card_id} 原已{state}，没有新版本", highlight=False)


ScopeOption = typer.Option("provincial", "--list",
                           help="provincial（省级名录，一至三级）或 national（国家名录，一、二级）。")
ApplicantOption = typer.Option(None, "--applicant", help="申报单位（与卡片的收藏单位不同时填写）。")
PreparerOption = typer.Option(None, "--preparer", help="印在表上的填表人（不给则留空手写）。")
ContactOption = typer.Option(None, "--contact", help="填表人的联系方式（电话、电子邮箱）。")
CountOption = typer.Option(None, "--count", min=1, help="默认附几幅书影（$GUJI_DOSSIER_PAGES，默认 2）。")
WidthOption = typer.Option(None, "--width", min=100,
                           help="书影宽度，像素（$GUJI_DOSSIER_IMAGE_WIDTH，默认 1200）。")
StrictOption = typer.Option(False, "--strict", help="预检有提示时什么都不写，退出码 1。")

FormatOption = typer.Option("docx", "--format", "-f", **one_of("docx", "pdf"), help="docx 或 pdf。")


def _refuse_if_strict(strict: bool, count: int) -> None:
    if strict and count:
        errors.print(f"[red]不生成（--strict）：[/red]预检发现 {count} 个问题，什么都没有写入", highlight=False)
        raise typer.Exit(1)


@commands.command()
def dossier(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="卡片标识符、索书号或普查编号。"),
    format: str = FormatOption,
    output: Path = typer.Option(..., "--output", "-o", help="写出的文件。"),
    scope: str = ScopeOption,
    pages: str = typer.Option(None, "--pages", help="选作书影的页，如 0001,0003"
                                                    "（默认：最前面的卷端页）。"),
    count: int = CountOption,
    width: int = WidthOption,
    applicant: str = ApplicantOption,
    preparer: str = PreparerOption,
    contact: str = ContactOption,
    strict: bool = StrictOption,
) -> None:
    """生成珍贵古籍名录申报书（DOCX 或 PDF）。

    含著录项、预检提示和书影。"""
    from .dossier import build_dossier, write_dossier

    with open_catalogue(ctx) as catalogue:
        card_id = catalogue.resolve(reference)
        page_list = [p for p in (pages or "").replace("，", ",").split(",") if p.strip()] or None
        built = build_dossier(catalogue, card_id, scope=scope, pages=page_list, count=count, width=width,
                              applicant=applicant, preparer=preparer, contact=contact)
        _warn(built.warnings)
        _refuse_if_strict(strict, len(built.warnings))
        write_dossier(built, output, format)
        console.print(f"{built.scope_label}申报书（{card_id} 第 {built.version} 版，书影 {len(built.pages)} 幅）："
                      f"{output}", highlight=False)


@commands.command("dossier-round")
def dossier_round(
    ctx: typer.Context,
    ids: list[str] = IdsOption,
    output: Path = typer.Option(..., "--output", "-o", help="写出的 zip 文件，如 申报-第七批.zip。"),
    format: str = FormatOption,
    scope: str = ScopeOption,
    name: str = typer.Option("", "--round", help="汇总表上的批次名称，如 第七批。"),
    count: int = CountOption,
    width: int = WidthOption,
    applicant: str = ApplicantOption,
    preparer: str = PreparerOption,
    contact: str = ContactOption,
    strict: bool = StrictOption,
) -> None:
    """一批申报：汇总表和各书申报书，打成一个 zip。

    申报汇总表有 XLSX 和 PDF 两份；先逐书预检，再生成。"""
    from .application_round import build_round, round_zip
    from .selection import resolve_references, split_references

    references = split_references(ids)
    if not references:
        raise InvalidInput("请用 --ids 列出要申报的书（标识符、索书号或普查编号）")
    with open_catalogue(ctx) as catalogue:
        card_ids = resolve_references(catalogue, references)
        with progress("预检", "部") as update:
            application = build_round(catalogue, card_ids, scope=scope, name=name, applicant=applicant,
                                      preparer=preparer, contact=contact, count=count, width=width,
                                      progress=update)
        for book in application.books:
            _warn(book.dossier.warnings, prefix=f"{book.dossier.card_id}（{book.dossier.title}）：")
        problems = sum(len(book.dossier.warnings) for book in application.books)
        _refuse_if_strict(strict, problems)
        with progress("生成申报书", "部") as update:
            data = round_zip(application, format, progress=update)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        console.print(f"{application.title}：{len(application.books)} 部书，汇总表和申报书已写入 {output}"
                      f"（预检提示 {problems} 条，见压缩包中的 预检结果.txt）", highlight=False)


@export_app.command("bag")
def export_bag_command(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="卡片标识符、索书号或普查编号。"),
    output: Path = typer.Option(..., "--output", "-o", help="存放 BagIt 包的新文件夹。"),
    version: int = typer.Option(None, "--version", "-v", help="OCFL 版本（默认：当前版本）。"),
) -> None:
    """把一部书的一个 OCFL 版本写成 BagIt 包。

    清单用 sha512，写完与 OCFL 核对。"""
    from .bag import export_bag

    with open_catalogue(ctx) as catalogue:
        card_id = catalogue.resolve(reference)
        with progress(f"打包 {card_id}", "个文件") as update:
            result = export_bag(catalogue, card_id, output, version=version, progress=update)
        console.print(f"{card_id} 第 {result.version} 版的 BagIt 包：{result.files} 个文件，"
                      f"{result.bytes:,} 字节 → {result.path}", highlight=False)


@commands.command("validate-xml")
def validate_xml(
    file: Path = typer.Argument(..., help="MODS、oai_dc 或 OAI-PMH 响应的 XML 文件。"),
    schema: str = typer.Option("auto", "--schema", **one_of("auto", "mods", "oai_dc", "dc-records", "oai"),
                               help="auto（按根元素判断）、mods、oai_dc、dc-records 或 oai。"),
) -> None:
    """按 MODS、oai_dc、OAI-PMH 模式校验 XML 文件。

    模式版本：MODS 3.6、OAI-PMH 2.0；不读取 DTD 和实体。"""
    from .safe_xml import MAX_XML_BYTES, XMLRefused, parse_xml, schema_for, validate

    if file.is_file() and file.stat().st_size > MAX_XML_BYTES:
        raise XMLRefused(f"{file}: 文件超过 {MAX_XML_BYTES >> 20} MB，不予校验；请分成几个文件")
    tree = parse_xml(file.read_bytes(), str(file))  # a DOCTYPE, entities or broken XML: XMLRefused
    name = schema_for(tree) if schema == "auto" else schema
    if name not in ("mods", "oai_dc", "dc-records", "oai"):
        raise InvalidInput(f"{file}：看不出根元素属于哪种模式，请用 --schema 指定"
                           "（mods、oai_dc、dc-records 或 oai）")
    problems = validate(tree, name)
    for problem in problems:
        errors.print(f"{file} {problem}", highlight=False, markup=False)
    if problems:
        raise typer.Exit(1)
    console.print(f"{file}：符合 {name} 模式（valid {name}）", highlight=False)
