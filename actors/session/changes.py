"""Which files a turn created or changed: read from its tool calls, for the reply's footer.

Pure: fed the turn's stdout lines in order, it keeps each file-writing tool call (``Write``,
``Edit``, ``MultiEdit``, ``NotebookEdit``) until its ``tool_result`` comes back, and counts the
file as changed only when that result is not an error (a denied or failed edit changed
nothing). Paths are as claude gave them, usually absolute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from actors.claude import codec

#: Tools that write a file, and the input field naming it.
FILE_TOOLS = {
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
}


@dataclass(frozen=True, slots=True)
class FileChanges:
    #: (tool_use id, path) of file-writing calls whose result has not come back yet.
    asked: tuple[tuple[str, str], ...] = ()
    #: Files changed, each once, in the order they were first changed.
    paths: tuple[str, ...] = ()

    def seen(self, line: Mapping[str, Any]) -> FileChanges:
        """After one more stdout line of the turn."""
        kind = line.get("type")
        if kind == "assistant":
            asked = [
                (use.id, path)
                for use in codec.tool_use_blocks(line)
                if use.id is not None
                and isinstance(path := use.input.get(FILE_TOOLS.get(use.name, "")), str)
                and path
            ]
            return replace(self, asked=(*self.asked, *asked)) if asked else self
        if kind != "user" or not self.asked:
            return self
        done = {r.tool_use_id: r.is_error for r in codec.tool_results(line)}
        if not done:
            return self
        changed = [p for i, p in self.asked if done.get(i) is False and p not in self.paths]
        return FileChanges(
            tuple((i, p) for i, p in self.asked if i not in done),
            (*self.paths, *dict.fromkeys(changed)),
        )
