"""``python -m spinexplore`` is the ``spinexplore`` command."""

import sys

from spinexplore.cli import main

if __name__ == "__main__":
    sys.exit(main())
