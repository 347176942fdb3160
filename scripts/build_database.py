"""Command line: python -m scripts.build_database --data data --out build/commissioning.db"""

import sys

from scripts.publication.build import main

if __name__ == "__main__":
    sys.exit(main())
