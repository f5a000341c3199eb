"""Sphinx configuration of the scssl documentation.

Build with ``bash scripts/docs.sh`` (warnings are errors). Nothing is fetched from
the network: there are no intersphinx mappings.
"""

from __future__ import annotations

import inspect
from datetime import date

import scssl

project = "scssl"
author = "scssl developers"
copyright = f"{date.today().year}, {author}"
release = scssl.__version__
version = release

extensions = [
    "myst_nb",  # markdown pages and the tutorial notebooks (includes myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- MyST (markdown pages) -------------------------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]  # $...$ and $$...$$ equations in the guide
# the tutorial notebooks are rendered with the outputs committed with them
# (scripts/notebooks.sh): the docs build never trains a model
nb_execution_mode = "off"

# -- API reference ---------------------------------------------------------------------------
autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# inherited methods of scvi-tools / torch / Lightning classes are documented by those
# projects; do not copy their docstrings into overriding scssl methods without one
autodoc_inherit_docstrings = False

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True

html_theme = "furo"
html_title = f"scssl {release}"


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document class members defined in scssl only, not those inherited from other packages."""
    if what != "class":
        return None
    if isinstance(obj, property):
        target = obj.fget
    else:
        target = inspect.unwrap(getattr(obj, "__func__", obj))
    module = getattr(target, "__module__", None) or ""
    if not module.startswith("scssl"):
        return True
    return None


def setup(app):  # noqa: D103
    app.connect("autodoc-skip-member", _skip_foreign_members)
