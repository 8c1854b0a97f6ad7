"""Shared pieces of the CLI: the `--json`, `--token` and `--user-agent` options,
URL checks and JSON printing.

Expected errors become `click.ClickException` (exit 1, one `Error:` line on
stderr); usage errors, including an invalid option value, stay Click's (exit 2).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """`--json`: machine-readable output (one JSON object per line)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")(func)


def echo_json(obj: Any) -> None:
    # ensure_ascii=False keeps Kazakh and Russian text readable in the output.
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str))


def validate_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: ``--token`` must be an RFC 9309 product token.

    Checked here, before Scrapy starts, so a typo is a usage error (exit 2)
    rather than a failed run; the rule itself is ``PolicyConfig``'s.
    """
    if value is None:
        return None
    from optout.policy import PolicyConfig

    try:
        PolicyConfig(token=value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("policy ")) from exc
    return value


def validate_user_agent(ctx: click.Context, param: click.Parameter,
                        value: str | None) -> str | None:
    """Click callback: a User-Agent that is not empty and never claims to be Scrapy.

    Sites block or allow "Scrapy" as a crawler of its own; our requests must be
    judged as tdmcrawl's. Control characters would break the header.
    """
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("the User-Agent must not be empty")
    if "scrapy" in value.lower():
        raise click.BadParameter(f"{value!r} mentions Scrapy; name this crawler instead")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or not value.isascii():
        raise click.BadParameter(f"{value!r}: use printable ASCII only (an HTTP header value)")
    return value


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable http(s) URL, or None when it is."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        return f"not a valid URL: {url!r} ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {url!r}"
    if port == 0:
        return f"port 0 in {url!r}"
    return None


class ExampleLastCommand(click.Command):
    """A command whose ``--help`` ends with the docstring's ``Example:`` block.

    Click prints the docstring above the options; users look for the example
    at the end, so everything from ``Example:`` on becomes the epilog.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help, self.epilog = split_example(self.help, self.epilog)


class ExampleLastGroup(click.Group):
    """A group whose help, and its subcommands' help, end with the example."""

    command_class = ExampleLastCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help, self.epilog = split_example(self.help, self.epilog)


def split_example(help_text: str | None, epilog: str | None) -> tuple[str | None, str | None]:
    """(help without its ``Example:`` block, that block as the epilog)."""
    if not help_text or epilog:
        return help_text, epilog
    text = inspect.cleandoc(help_text)
    head, marker, example = text.partition("Example:")
    if not marker or (head and not head.endswith("\n")):
        return help_text, epilog
    return head.rstrip() or None, marker + example
