"""Running the bot: serve (Slack), sandbox (the look-alike on this machine)."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from newsbot.bot.cli.context import Context, UsageError


def cmd_serve(ctx: Context) -> int:
    from newsbot.bot.app.logs import setup_logging
    from newsbot.bot.app.serve import serve
    from newsbot.bot.config.slack_credentials import credentials_from_env, no_slack_credentials

    args = ctx.args
    if no_slack_credentials(os.environ):
        return offer_sandbox(ctx, args)
    mode = "http" if args.http else "socket"
    credentials = credentials_from_env(os.environ, mode)
    setup_logging(args.log_level, credentials.secrets)
    # SIGTERM (systemd, docker) and Ctrl-C stop it in order: see bot.app.serve
    config = ctx.config
    metrics_port = config.metrics_port if args.metrics_port is None else args.metrics_port
    host = args.host or config.host or ("0.0.0.0" if args.http else "127.0.0.1")
    serve(config, credentials, http=args.http, host=host, port=args.port,
          metrics_port=metrics_port)
    return 0


def offer_sandbox(ctx: Context, args: argparse.Namespace) -> int:
    """No credentials at all. A service (no terminal) stops: a container or unit started
    without its variables must fail loudly, not run a sandbox nobody sees. A person at a
    terminal is told, then asked whether to start the local sandbox instead."""
    needed = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET" if args.http else "SLACK_APP_TOKEN"]
    missing = f"no Slack credentials: {' and '.join(needed)} are not set"
    if not sys.stdin.isatty():
        raise UsageError(f"{missing} (README: Running it in Slack); to try newsbot without "
                         "Slack, run `newsbot sandbox`")
    print(f"{missing}, so newsbot cannot run in Slack. It can start the local sandbox "
          "instead: a look-alike workspace on this machine, not Slack (the same as "
          "`newsbot sandbox`).", flush=True)
    try:
        answer = input(f"Start the sandbox on port {args.port}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError(f"{missing}; set them (README: Running it in Slack) or run "
                         "`newsbot sandbox`")
    return run_sandbox(ctx, args.port)


def cmd_sandbox(ctx: Context) -> int:
    return run_sandbox(ctx, ctx.args.port)


def run_sandbox(ctx: Context, port: int) -> int:
    """Start the sandbox on 127.0.0.1:port, print where to open it, run until Ctrl-C."""
    import threading
    from pathlib import Path

    from newsbot.bot.app.logs import setup_logging
    from newsbot.sandbox.runner import Sandbox, SandboxError
    from newsbot.sandbox.working_copy import working_copy

    setup_logging(ctx.args.log_level)
    config = working_copy(ctx.config, Path.cwd())
    sandbox = Sandbox(config, port=port)
    try:
        sandbox.start()
    except SandboxError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot listen on 127.0.0.1:{port} ({error.strerror or error}): "
                         "choose another port with --port, or --port 0 for any free one") from None
    digest = sandbox.digest
    posted = f"{len(digest.messages)} articles" if digest else "no digest"
    print(f"Articles: {config.articles} | database: {config.db} | "
          f"posted the first digest to #newsroom ({posted})")
    print(f"Alerts: type `/news subscribe topics=AI` in #newsdesk (or `/news follow topics=AI`"
          f" for a DM), then copy an article file into {config.articles}: the alert appears "
          "within seconds.")
    print(f"Open {sandbox.url} in your browser (Ctrl-C stops the sandbox).", flush=True)
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sandbox.stop()
    print("Sandbox stopped.")
    return 0
