"""The report's one jinja2 environment: templates in memx/report/templates/, autoescaped,
so every string from a run (sample text, document names, settings) is HTML-escaped
unless a template marks a value `| safe` (a section already rendered, a figure).

`render(name, **context)` renders one template to a string. It knows no section and no data.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@lru_cache(maxsize=1)
def environment() -> Environment:
    # StrictUndefined: a name missing from the context is an error, not an empty cell
    return Environment(loader=PackageLoader("memx.report", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
