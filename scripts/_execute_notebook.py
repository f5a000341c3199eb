"""Execute one notebook in place (from its own folder) and tidy its text outputs.

Progress bars write many partial lines separated by carriage returns; a notebook front
end shows only the last state of each line, so the stored output keeps only that too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbclient
import nbformat


def _last_state(text: str) -> str:
    """What a terminal shows: of each line, the text after its last carriage return."""
    return "\n".join(re.split(r"\r(?!\n)", line)[-1] for line in text.split("\n"))


def tidy_streams(notebook) -> None:
    """Merge consecutive stream outputs of one name and resolve carriage returns."""
    for cell in notebook.cells:
        merged: list = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (
                output.output_type == "stream"
                and previous is not None
                and previous.output_type == "stream"
                and previous.name == output.name
            ):
                previous.text += output.text
            else:
                merged.append(output)
        for output in merged:
            if output.output_type == "stream":
                output.text = _last_state(output.text)
        if "outputs" in cell:
            cell.outputs = merged


def main(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=3600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    tidy_streams(notebook)
    nbformat.write(notebook, path)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
