"""`guji iiif import` and `guji iiif pyramids` (assembled in web/cli.py)."""

from __future__ import annotations

import typer

from guji.repository.cli import EditorOption, console, editor_of, one_of, open_catalogue, warn

commands = typer.Typer()

iiif_app = typer.Typer(help="IIIF：导入清单（manifest），为 Image API 准备影像。", no_args_is_help=True)
commands.add_typer(iiif_app, name="iiif")


@iiif_app.command("import")
def import_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="IIIF Presentation 2 或 3 清单：文件或 http(s) 网址。"),
    book: str = typer.Option(..., "--id", help="这部书的卡片标识符（已有卡片则关联，否则新建）。"),
    record_type: str = typer.Option("guji", "--record-type", **one_of("guji", "local_document",
                                                                      what="（古籍或地方文献）"),
                                    help="新建卡片的类型：guji（古籍）或 local_document（地方文献）。"),
    viewing_direction: str = typer.Option(None, "--viewing-direction",
                                          help="阅读方向，取代清单中的设置，如 right-to-left。"),
    editor: str = EditorOption,
) -> None:
    """导入现成的 IIIF 清单作为一部书。

    影像仍留在对方馆的服务器上。"""
    from guji.repository import public_url

    from .importer import import_manifest

    with open_catalogue(ctx) as catalogue:
        result = import_manifest(catalogue, source, book, editor=editor_of(ctx, editor),
                                 record_type=record_type, viewing_direction=viewing_direction)
        for warning in result.warnings:
            warn(warning, "提醒")
        stored = f"存为 v{result.version}" if result.version else "没有变化，未存新版本"
        card = "已建卡片" if result.card_created else "已关联现有卡片"
        console.print(f"{book}：{result.pages} 页，{result.ranges} 个范围（卷、册），{card}，{stored}",
                      highlight=False)
        console.print(f"manifest：{public_url()}/iiif/{book}/manifest", highlight=False)


@iiif_app.command("pyramids")
def pyramids_command(
    ctx: typer.Context,
    book: str = typer.Argument(None, help="书的标识符（默认：所有书）。"),
    force: bool = typer.Option(False, "--force", help="已有的金字塔 TIFF 也重建。"),
) -> None:
    """生成金字塔 TIFF，供 Image API 动态取图。

    不预先生成，则在首次使用时生成。"""
    from guji.ingest.pyramid import build_pyramids

    with open_catalogue(ctx) as catalogue:
        built = build_pyramids(catalogue, book, force=force)
        console.print(f"built {built} pyramid(s)", highlight=False)
