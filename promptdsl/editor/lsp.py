"""`promptc lsp`: a language server over stdio (pygls 2). Diagnostics are exactly `check`'s."""
from __future__ import annotations

import os

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .lsp_complete import completions, data_completions, hover_text

server = LanguageServer("promptc", "1")
_state = {"tables": None, "tasks": {}}   # tasks: path -> {name: IR} of its last check that built


def _tables():
    """One Tables for the session (each data file read once), a file re-read when its mtime moves."""
    if _state["tables"] is None:
        from ..ir.data_checks import Tables

        class FreshTables(Tables):
            def __init__(self):
                super().__init__()
                self.mtimes: dict = {}

            def read(self, spec, path):
                try:
                    mtime = os.stat(path).st_mtime_ns
                except OSError:
                    mtime = None
                if self.mtimes.get(path, mtime) != mtime:
                    self._read.pop(path, None)
                self.mtimes[path] = mtime
                return super().read(spec, path)

        _state["tables"] = FreshTables()
    return _state["tables"]


def _open_texts(ls) -> dict:
    return {to_fs_path(uri): doc.source for uri, doc in ls.workspace.text_documents.items()}


def to_lsp(d) -> T.Diagnostic:
    """check's 1-based, end-exclusive character columns → LSP 0-based positions."""
    line, col = max(d.line - 1, 0), max(d.column - 1, 0)
    end_line = max(d.end_line - 1, line)
    end_col = max(d.end_column - 1, 0) if d.end_line else col
    message = d.message + (f"\nhelp: {d.hint}" if d.hint else "")
    severity = T.DiagnosticSeverity.Error if d.is_error else T.DiagnosticSeverity.Warning
    return T.Diagnostic(range=T.Range(T.Position(line, col), T.Position(end_line, end_col)),
                        message=message, severity=severity, code=d.code, source="promptc")


def _publish(ls, uri: str) -> None:
    from ..api import check_files
    path = to_fs_path(uri)
    diagnostics, tasks = check_files([path], texts=_open_texts(ls), tables=_tables())
    if tasks.get(path):
        _state["tasks"][path] = tasks[path]
    mine = [to_lsp(d) for d in diagnostics if os.path.abspath(d.file) == os.path.abspath(path)]
    ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=uri, diagnostics=mine))


@server.feature(T.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls, params: T.DidOpenTextDocumentParams):
    _publish(ls, params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls, params: T.DidChangeTextDocumentParams):
    _publish(ls, params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_FORMATTING)
def formatting(ls, params: T.DocumentFormattingParams):
    from ..syntax.fmt import format_text
    doc = ls.workspace.get_text_document(params.text_document.uri)
    result = format_text(doc.source, to_fs_path(doc.uri))
    if result.text is None or not result.changed:
        return []
    end = T.Position(len(doc.lines), 0)
    return [T.TextEdit(range=T.Range(T.Position(0, 0), end), new_text=result.text)]


@server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["{", " "]))
def completion(ls, params: T.CompletionParams):
    doc = ls.workspace.get_text_document(params.text_document.uri)
    line, column = params.position.line, params.position.character
    items = data_completions(doc.source, line, column, _state["tasks"].get(
        to_fs_path(doc.uri), {}), _tables())
    if items is None:
        items = completions(doc.source, line, column)
    return T.CompletionList(is_incomplete=False,
                            items=[T.CompletionItem(label=n, detail=d) for n, d in items])


@server.feature(T.TEXT_DOCUMENT_HOVER)
def hover(ls, params: T.HoverParams):
    doc = ls.workspace.get_text_document(params.text_document.uri)
    text = hover_text(doc.source, params.position.line, params.position.character)
    return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=text)) \
        if text else None


@server.feature(T.TEXT_DOCUMENT_DEFINITION)
def definition(ls, params: T.DefinitionParams):
    from .lsp_definition import find_definition
    doc = ls.workspace.get_text_document(params.text_document.uri)
    found = find_definition(doc.source, to_fs_path(doc.uri), params.position.line,
                            params.position.character, _open_texts(ls))
    if found is None:
        return None
    path, line, col, end_col = found
    return T.Location(uri=from_fs_path(path),
                      range=T.Range(T.Position(line, col), T.Position(line, end_col)))


def serve() -> None:
    server.start_io()


if __name__ == "__main__":      # `python -m promptdsl.editor.lsp`, same as `promptc lsp`
    serve()
