"""``tdmcrawl keygen KEY``: an Ed25519 key pair for signing corpus manifests."""

from __future__ import annotations

from pathlib import Path

import click

from tdmcrawl.crawler.cli.options import ExampleLastCommand, echo_json, json_option
from tdmcrawl.crawler.signing import generate_keypair, key_fingerprint, load_public_key


@click.command(cls=ExampleLastCommand)
@click.argument("key", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def keygen(key: Path, as_json: bool) -> None:
    """Write a new Ed25519 private key to KEY (owner-readable only) and its public key
    to KEY.pub; an existing file is never overwritten.

    Sign with --sign-key KEY on crawl, filter and recheck; give KEY.pub to those
    who run `tdmcrawl verify DIR --public-key KEY.pub`.

    Example:

        tdmcrawl keygen ~/.tdmcrawl/operator.key
    """
    private, public = generate_keypair(key)
    fingerprint = key_fingerprint(load_public_key(public))
    if as_json:
        echo_json(
            {"private_key": str(private), "public_key": str(public), "fingerprint": fingerprint}
        )
        return
    click.echo(f"private key: {private} (keep it secret)")
    click.echo(f"public key:  {public}")
    click.echo(f"fingerprint: {fingerprint}")
