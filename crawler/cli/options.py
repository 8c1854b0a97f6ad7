"""The CLI's shared pieces: options declared once (`--json`, `--registry`,
`--product-token`, `--user-agent`, `-s`), their checks, URL checks, JSON printing.

Expected errors are mapped to one `Error:` line and an exit status by the
`tdmcrawl` group (see ``cli/__init__.py``); an invalid option value is Click's
usage error (exit 2).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.optout.policy import PolicyConfig

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """`--json`: machine-readable output (one JSON object per line)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")(func)


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> dict, as ``scrapy crawl -s`` reads them."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"-s expects NAME=VALUE, got {pair!r}")
        out[name.strip()] = value
    return out


def read_seeds(path: Path) -> list[str]:
    """One URL per line; blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read seeds file {path}: {exc}") from exc
    seeds = []
    for line in text.splitlines():
        line = line.strip()  # a URL may hold "#", so only whole-line comments
        if line and not line.startswith("#"):
            seeds.append(line)
    return seeds


class RegistrySource(click.ParamType):
    """A registry file (a ``Path``), or the http(s) URL of a registry service (a ``str``)."""

    name = "registry"

    def __init__(self, *, must_exist: bool) -> None:
        self.path = click.Path(exists=must_exist, dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path):
            return value
        text = str(value)
        if text.lower().startswith(("http://", "https://")):
            problem = http_url_problem(text)
            if problem:
                self.fail(problem, param, ctx)
            return text
        return self.path.convert(text, param, ctx)


def registry_option(
    help_text: str,
    *,
    must_exist: bool = True,
    required: bool = False,
    envvar: str | None = None,
    dest: str = "registry",
    remote: bool = True,
) -> Callable[[F], F]:
    """``--registry DB|URL``: the authors' opt-out registry, a SQLite file or (with
    ``remote``) the ``https://`` address of a registry service the command follows."""
    kind: click.ParamType = (
        RegistrySource(must_exist=must_exist)
        if remote
        else click.Path(exists=must_exist, dir_okay=False, path_type=Path)
    )
    return click.option(
        "--registry",
        dest,
        required=required,
        envvar=envvar,
        metavar="DB|URL" if remote else "DB",
        type=kind,
        help=help_text,
    )


def sign_key_option(func: F) -> F:
    """``--sign-key KEY``: sign DIR/manifest.json with this Ed25519 key (``tdmcrawl keygen``)."""
    return click.option(
        "--sign-key",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        metavar="KEY",
        help="Sign DIR/manifest.json with this Ed25519 private key (tdmcrawl keygen).",
    )(func)


def product_token_option(func: F) -> F:
    """``--product-token``: our RFC 9309 product token (not the registry's removal token)."""
    return click.option(
        "--product-token",
        "token",
        callback=validate_token,
        metavar="TOKEN",
        help="Product token matched against robots.txt groups (default: tdmcrawl).",
    )(func)


def user_agent_option(func: F) -> F:
    return click.option(
        "--user-agent",
        callback=validate_user_agent,
        help="Full User-Agent string (never one that claims to be Scrapy).",
    )(func)


def settings_option(func: F) -> F:
    """``-s NAME=VALUE``, as ``scrapy crawl -s``; checked by :func:`setting_overrides`."""
    return click.option(
        "-s",
        "--set",
        "overrides",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override any Scrapy or TDMCRAWL_* setting (repeatable).",
    )(func)


# `-s` names whose values are the options above: the same checks apply to both spellings.
_CHECKED_SETTINGS = (("TDMCRAWL_TOKEN", "token"), ("TDMCRAWL_USER_AGENT", "user agent"))


def setting_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """``-s`` pairs as a dict; a malformed pair or a bad token/User-Agent is a usage error."""
    try:
        overrides = parse_overrides(pairs)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    checks = {"TDMCRAWL_TOKEN": validate_token, "TDMCRAWL_USER_AGENT": validate_user_agent}
    ctx = click.get_current_context()
    for name, _what in _CHECKED_SETTINGS:
        if name in overrides:
            try:
                checks[name](ctx, None, overrides[name])  # type: ignore[arg-type]
            except click.BadParameter as exc:
                raise click.BadParameter(exc.message, param_hint=f"-s {name}") from None
    return overrides


def check_urls(urls: list[str] | tuple[str, ...], param: str) -> None:
    """Every URL must be a usable http(s) URL; the first that is not is a usage error."""
    for url in urls:
        problem = http_url_problem(url)
        if problem:
            raise click.BadParameter(problem, param_hint=param)


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
    try:
        PolicyConfig(token=value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("policy ")) from exc
    return value


def validate_user_agent(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """Click callback: a User-Agent that is not empty and never claims to be Scrapy
    (the rule is ``settings.user_agent_problem``, applied to ``-s`` values too)."""
    if value is None:
        return None
    problem = tds.user_agent_problem(value)
    if problem:
        raise click.BadParameter(
            "the User-Agent must not be empty" if problem == "must not be empty" else problem
        )
    return value


def out_dir_option(help_text: str) -> Callable[[F], F]:
    """``--out DIR``: never empty (the current directory), never inside another crawl's."""
    return click.option(
        "--out",
        "out_dir",
        required=True,
        type=click.Path(file_okay=False),
        callback=validate_out_dir,
        help=help_text,
    )


def validate_out_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """Click callback: the rule is ``settings.out_dir_problem``, checked before anything runs."""
    if value is None:
        return None
    problem = tds.out_dir_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return Path(value)


def validated(settings: Any) -> Any:
    """``settings`` once :func:`tdmcrawl.crawler.settings.validate` passed (else a usage error,
    exit 2, before anything is written or fetched)."""
    tds.validate(settings)
    return settings


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
