"""`guji iiif import` and `guji iiif pyramids` (assembled in web/cli.py)."""

from __future__ import annotations

import typer

from guji.repository.cli import EditorOption, console, editor_of, one_of, open_catalogue, warn


def register(app: typer.Typer) -> None:
    iiif_app = typer.Typer(help="IIIF: import manifests, prepare images for the Image API.", no_args_is_help=True)
    app.add_typer(iiif_app, name="iiif")

    @iiif_app.command("import")
    def import_command(
        ctx: typer.Context,
        source: str = typer.Argument(..., help="A IIIF Presentation 2 or 3 manifest: a file or an http(s) URL."),
        book: str = typer.Option(..., "--id", help="Card id of the book (an existing card is linked, else created)."),
        record_type: str = typer.Option("guji", "--record-type", **one_of("guji", "local_document",
                                                                          what="（古籍或地方文献）"),
                                        help="For a new card: guji (古籍) or local_document (地方文献)."),
        viewing_direction: str = typer.Option(None, "--viewing-direction",
                                              help="Override the manifest's, e.g. right-to-left."),
        editor: str = EditorOption,
    ) -> None:
        """Import an existing IIIF manifest as a book; the images stay on the other library's server."""
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
        book: str = typer.Argument(None, help="Book id (default: every book)."),
        force: bool = typer.Option(False, "--force", help="Rebuild pyramids that exist."),
    ) -> None:
        """Build the pyramidal TIFFs the Image API renders dynamic requests from (otherwise built on first use)."""
        from guji.ingest.pyramid import build_pyramids

        with open_catalogue(ctx) as catalogue:
            built = build_pyramids(catalogue, book, force=force)
            console.print(f"built {built} pyramid(s)", highlight=False)
