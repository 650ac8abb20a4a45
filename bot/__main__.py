"""`python -m newsbot.bot` is `newsbot`."""

import sys

from newsbot.bot.cli.main import main

sys.exit(main())
