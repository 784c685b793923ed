"""``python -m ressearch``: the same CLI as the ``ressearch`` command."""

from ressearch.cli import main

main()
