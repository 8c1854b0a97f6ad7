"""Shared pieces of the CLI: the `--json` option and JSON printing.

Expected errors become `click.ClickException` (exit 1, one `Error:` line on
stderr); usage errors stay Click's (exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """`--json`: machine-readable output (one JSON object per line)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")(func)


def echo_json(obj: Any) -> None:
    # ensure_ascii=False keeps Kazakh and Russian text readable in the output.
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str))
