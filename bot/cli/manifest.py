"""`newsbot manifest`: the Slack app manifest for the current configuration."""

from __future__ import annotations

import sys

from newsbot.bot.cli.context import Context, UsageError


def cmd_manifest(ctx: Context) -> int:
    from newsbot.handlers.manifest import ManifestError, manifest, manifest_json, manifest_yaml

    args = ctx.args
    try:
        document = manifest(ctx.config, url=args.url, socket_mode=args.socket_mode)
    except ManifestError as error:
        raise UsageError(str(error)) from None
    flags = " --socket-mode" if args.socket_mode else f" --url {args.url}"
    sys.stdout.write(manifest_json(document) if ctx.json else manifest_yaml(document, flags))
    return 0
