"""`guji search`, `guji indexer` and `guji reindex` (assembled in web/cli.py)."""

from __future__ import annotations

import json
import signal
import sys

import typer
from rich.table import Table
from rich.text import Text

from guji.repository.cli import EditorOption, console, editor_of, errors, one_of, open_catalogue, progress
from guji.repository.errors import InvalidInput

BackendOption = typer.Option(None, "--backend", **one_of("whoosh", "tantivy"),
                             help="whoosh 或 tantivy（默认：$GUJI_SEARCH_BACKEND，否则 whoosh）。")


def _snippet_text(snippet) -> Text:
    text = Text()
    for part, marked in snippet.parts:
        text.append(part, style="bold red" if marked else None)
    return text


def _whole(done) -> str:
    """What the indexer says when a pass built the index whole (empty: it applied events one by one)."""
    if done.built:
        return (f"indexer：索引尚未建立，已按目录建好（{done.indexed} 部书，截至事件 #{done.last_event}），"
                "此后按事件更新")
    if done.rebuilt:
        return f"indexer：检索键已更新，已按新的异体字表重建索引（{done.indexed} 部书）"
    if done.requested:
        return f"indexer：应 guji reindex --all-nodes 的请求，已重建本节点的索引（{done.indexed} 部书）"
    return ""


commands = typer.Typer()


@commands.command()
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='检索式，如 后妃之德、著者:冒襄、"影梅 庵"、-關雎。'),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出结果。"),
    page: int = typer.Option(1, "--page", help="结果的第几页。"),
    per_page: int = typer.Option(10, "--per-page", help="每页列出几部书。"),
    sort: str = typer.Option("relevance", "--sort", **one_of("relevance", "title", "date", "call_number"),
                             help="排序：relevance（相关度）、title（题名）、date（年代）"
                                  "或 call_number（索书号）。"),
    filters: list[str] = typer.Option(None, "--filter", help="分面=值，如 sibu=经部（可重复）。"),
    backend: str = BackendOption,
) -> None:
    """检索编目记录和全文（简繁异体通检）。"""
    from .service import Searcher

    chosen = {}
    for item in filters or []:
        if "=" not in item:
            raise InvalidInput(f"--filter {item!r}：请写成 FACET=VALUE，如 sibu=经部")
        name, value = item.split("=", 1)
        chosen[name.strip()] = value
    with open_catalogue(ctx) as catalogue:
        searcher = Searcher(catalogue.home, backend, catalogue.settings)
        try:  # a bad query: QueryError, a usage error (exit code 2) that says what to change
            results = searcher.search(query, filters=chosen, sort=sort, page=page, per_page=per_page)
        finally:
            searcher.close()
        from .backend import index_dir, stale_key
        from .indexer import events_behind

        behind = events_behind(catalogue, int(searcher.state().get("last_event", 0)))
        stale = stale_key(index_dir(catalogue.home, searcher.backend_name))
    if stale:
        errors.print(f"提示：{stale}", highlight=False, markup=False)
    if as_json:
        sys.stdout.write(json.dumps(results.to_json(), ensure_ascii=False, indent=1) + "\n")
        return
    table = Table("标识符", "题名", "著者", "版本", "叶数", "片段", title=f"{results.total_books} 种，"
                  f"{results.total_pages} 叶 — {query}", show_lines=True)
    for hit in results.books:
        lines = Text()
        for page_hit in hit.pages:
            for snippet in page_hit.snippets:
                lines.append(f"{page_hit.page or '无影像'}（{page_hit.label}）：")
                lines.append_text(_snippet_text(snippet))
                lines.append("\n")
        table.add_row(hit.book_id, _snippet_text(hit.title) if hit.title else hit.book["title"],
                      hit.book.get("responsibility") or "", hit.book.get("edition") or "", str(hit.page_count),
                      lines)
    console.print(table)
    for name, values in results.facets.items():
        from .fields import BY_NAME

        console.print(f"{BY_NAME[name].label}: " + "  ".join(f"{v} ({c})" for v, c in values), highlight=False)
    if behind > 0:
        errors.print(f"提示：检索索引还没有处理最近的 {behind} 个目录事件，结果可能不全；请启动 guji indexer"
                     "（或 guji serve），或运行 guji indexer --once", highlight=False)


@commands.command()
def indexer(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="把等待中的事件处理一遍后停止。"),
    interval: float = typer.Option(1.0, "--interval", help="查看事件日志的间隔（秒）。"),
    backend: str = BackendOption,
) -> None:
    """让检索索引跟上目录的变化。

    它是唯一写索引的进程。"""
    from .indexer import Indexer

    with open_catalogue(ctx) as catalogue:
        worker = Indexer(catalogue, backend)
        try:
            if once:
                done = worker.run_once()
                console.print(_whole(done) or f"indexer：处理了 {done.events} 个事件，索引 {done.indexed} 部书，"
                              f"移除 {done.deleted} 部（最后一个事件 #{done.last_event}）", highlight=False)
                return
            stopping = []
            signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

            def announce(done) -> None:
                console.print(_whole(done) or f"indexer：{done.events} 个事件 → 索引 {done.indexed} 部书，"
                              f"移除 {done.deleted} 部", highlight=False)

            def waiting() -> None:
                errors.print("indexer：另一个 indexer 正在写这个索引，等它结束",
                             highlight=False)

            def unreachable(message: str) -> None:
                errors.print(f"indexer: {message}；恢复后继续", highlight=False, markup=False)

            try:
                worker.run(interval, stop=lambda: bool(stopping), announce=announce, waiting=waiting,
                           unreachable=unreachable)
            except KeyboardInterrupt:
                pass
        finally:
            worker.close()


@commands.command()
def reindex(
    ctx: typer.Context,
    backend: str = BackendOption,
    all_nodes: bool = typer.Option(False, "--all-nodes",
                                   help="请各网站节点各自重建自己的索引（多节点部署，经共享的事件日志）。"),
    editor: str = EditorOption,
) -> None:
    """从 OCFL 和目录数据库重建检索索引。

    默认重建本机的索引（GUJI_INDEX_DIR）；多个网站节点各有一份索引时，用 --all-nodes：
    各节点的 indexer 读到请求后各自重建，/healthz 的 index_behind 为 0 即已完成。"""
    from .indexer import Indexer, request_rebuild

    if all_nodes:
        with open_catalogue(ctx) as catalogue:
            request_rebuild(catalogue, editor_of(ctx, editor))
        console.print("已请求各网站节点重建检索索引：各节点的 indexer 读到后各自重建；"
                      "/healthz 的 index_behind 为 0 即已完成", highlight=False)
        return
    with open_catalogue(ctx) as catalogue:
        worker = Indexer(catalogue, backend)
        try:
            with progress("重建索引", "部") as update:
                count = worker.rebuild(update)
        finally:
            worker.close()
    console.print(f"已重建检索索引：{count} 部书（{worker.backend_name}）", highlight=False)
