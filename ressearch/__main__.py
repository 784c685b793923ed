"""``python -m ressearch``: the same CLI as the ``ressearch`` command."""

from ressearch.cli import main

if __name__ == "__main__":
    main()
